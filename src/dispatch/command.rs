//! Comment commands' words: `/fleetform plan` or `/fleetform apply`,
//! optionally `-e <environment>`. Parsed alike by the customer's trigger,
//! the relay (which reads the comment from GitHub itself) and the manager
//! (which reads it again and checks its author, `flows::github_loop::comment_command`).

use super::{EVENT_APPLY, EVENT_PLAN};

/// A comment command: what to run, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub apply: bool,
    /// `-e <environment>`: only this one; else every enabled one.
    pub environment: Option<String>,
}

impl Command {
    /// The dispatch's `event_type` for this command.
    pub fn event_type(&self) -> &'static str {
        if self.apply {
            EVENT_APPLY
        } else {
            EVENT_PLAN
        }
    }
}

/// A comment's text as a command: exactly `/fleetform plan` or
/// `/fleetform apply`, optionally followed by `-e <environment>` (a slug),
/// words separated by spaces, on one line (trailing spaces and line ends
/// allowed). Anything else, including hidden or control characters, is
/// not a command. The text is the commenter's: only these few words are
/// ever read from it.
pub fn parse(body: &str) -> Option<Command> {
    let line = body.trim_end_matches([' ', '\r', '\n']);
    if line.len() > 200
        || line
            .chars()
            .any(|c| c != ' ' && (c.is_whitespace() || crate::util::text::is_hidden(c)))
    {
        return None;
    }
    let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
    let apply = match words.get(..2)? {
        ["/fleetform", "plan"] => false,
        ["/fleetform", "apply"] => true,
        _ => return None,
    };
    let environment = match &words[2..] {
        [] => None,
        ["-e", env] if crate::config::is_slug(env) => Some(env.to_string()),
        _ => return None,
    };
    Some(Command { apply, environment })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_commands_parse() {
        let plan = Command {
            apply: false,
            environment: None,
        };
        assert_eq!(parse("/fleetform plan"), Some(plan.clone()));
        assert_eq!(parse("/fleetform plan \r\n"), Some(plan));
        assert_eq!(
            parse("/fleetform apply -e staging"),
            Some(Command {
                apply: true,
                environment: Some("staging".into())
            })
        );
        for bad in [
            "",
            "/fleetform",
            "/fleetform plan please",
            "/fleetform plan -e",
            "/fleetform plan -e ../x",
            "/fleetform plan -e $(id)",
            "/fleetform plan\n/fleetform apply",
            "/fleetform plan\tx",
            "/fleetform\u{200b} plan",
            "/Fleetform plan",
            "please /fleetform plan",
            "/fleetform destroy",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
