//! Lists read page by page: `Link: rel="next"` is followed only under the
//! API root, at most [`MAX_PAGES`] pages.

use serde_json::Value;

use super::client::{GitHub, Method, MAX_PAGES};
use super::error::GitHubError;
use super::links;

impl GitHub {
    /// Every item of a list, page by page, following `Link: rel="next"`
    /// only under the API root; at most [`MAX_PAGES`] pages. An answer
    /// that is not a list, a next link that cannot be followed, a failed
    /// later page or too many pages is an error: no caller acts on an
    /// incomplete list.
    pub(super) async fn paginate(
        &self,
        first: String,
        each: impl FnMut(Value),
    ) -> Result<(), GitHubError> {
        self.paginate_in(first, None, each).await
    }

    /// [`GitHub::paginate`] for lists GitHub wraps in an object (`{"total_count":
    /// .., "<key>": [..]}`, e.g. environments and secrets): the items
    /// under `key` of every page.
    pub(super) async fn paginate_in(
        &self,
        first: String,
        key: Option<&'static str>,
        mut each: impl FnMut(Value),
    ) -> Result<(), GitHubError> {
        self.paginate_until(first, key, |v| {
            each(v);
            false
        })
        .await
    }

    /// [`GitHub::paginate_in`] that stops reading once `each` says it found
    /// what it looks for (`true`): no later page is asked for.
    pub(super) async fn paginate_until(
        &self,
        first: String,
        key: Option<&'static str>,
        mut each: impl FnMut(Value) -> bool,
    ) -> Result<(), GitHubError> {
        let mut next = Some(first.clone());
        let mut page = 0usize;
        while let Some(path) = next.take() {
            page += 1;
            if page > MAX_PAGES {
                return Err(GitHubError::TooManyPages {
                    path: first,
                    pages: MAX_PAGES,
                });
            }
            let r = self
                .send(Method::Get, &path, None)
                .await
                .map_err(|e| match page {
                    1 => e,
                    _ => GitHubError::Page {
                        page,
                        source: Box::new(e),
                    },
                })?;
            let list = match key {
                Some(k) => r.body.get(k).cloned().unwrap_or(Value::Null),
                None => r.body,
            };
            let Value::Array(items) = list else {
                return Err(GitHubError::BadJson {
                    method: "GET",
                    path,
                    message: "the answer is not a list".into(),
                });
            };
            if items.into_iter().any(&mut each) {
                return Ok(());
            }
            next = links::next_page(
                r.link.as_deref(),
                &self.api_root().url_for(&path),
                self.api_root(),
            )
            .map_err(|e| GitHubError::BadNextLink {
                method: "GET",
                path: path.clone(),
                link: e.link,
                problem: e.problem,
            })?;
        }
        Ok(())
    }
}
