//! `fleetform report --html OUT`: the fleet dashboard, one self-contained
//! HTML file built from the records: the grid shows what was applied
//! where and when, drift and failures; each customer has its history;
//! hostile text in the records stays text; nothing is fetched.

use crate::common;

use common::{require_terraform, Fixture};

fn dashboard(fx: &Fixture) -> String {
    common::run(fx, &["report", "--html", "dash.html"]).ok();
    std::fs::read_to_string(fx.path("manager/dash.html")).unwrap()
}

#[test]
fn the_dashboard_shows_the_fleet_and_each_customers_history() {
    require_terraform();
    let fx = Fixture::new();
    for (c, e) in [("acme", "staging"), ("globex", "staging")] {
        common::run(&fx, &["plan", "--customer", c, "--env", e]).ok();
        common::run(&fx, &["apply", "--customer", c, "--env", e]).ok();
    }
    common::run(&fx, &["drift", "--customer", "acme", "--env", "staging"]).ok();
    // A failed apply a minute ago, with hostile text, stays text.
    let now = std::process::Command::new("date")
        .args(["-u", "-d", "1 minute ago", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap();
    fx.append(
        "manager/.fleetform/audit.jsonl",
        &format!(
            r#"{{"time":"{}","action":"apply","actor":"<script>alert(1)</script>","customer":"acme","environment":"staging","result":"failed","detail":"<img src=x onerror=alert(1)>","run_url":"javascript:alert(1)"}}
"#,
            now.trim()
        ),
    );
    let html = dashboard(&fx);

    // The grid: every active customer and environment, applied or not.
    assert!(
        html.contains(r##"<a href="#customer-acme">acme</a>"##),
        "{html}"
    );
    assert!(html.contains(r##"<a href="#customer-globex">globex</a>"##));
    assert!(
        !html.contains("customer-initech"),
        "revoked customers are not in the fleet"
    );
    assert!(
        html.contains(r#"<th scope="col">staging</th>"#)
            && html.contains(r#"<th scope="col">production</th>"#)
    );
    assert!(html.contains("applied ") && html.contains("never applied"));
    assert!(
        html.contains("drift check: clean"),
        "acme's drift check: {html}"
    );
    assert!(
        html.contains("1 failed apply"),
        "the failed apply in the last 30 days"
    );
    // History per customer, newest first, and the weekly chart.
    let acme = html.split(r#"id="customer-acme""#).nth(1).unwrap();
    let acme = acme.split("</section>").next().unwrap();
    assert!(
        acme.contains("<td>apply</td>")
            && acme.contains("<td>plan</td>")
            && acme.contains("<td>drift</td>")
    );
    assert!(html.contains("<svg class=\"chart\" role=\"img\""));
    // This week: two applies and the failed one.
    assert!(html.contains("</td><td>2</td><td>1</td></tr>"), "{html}");

    // Hostile text is escaped, and only https run links become links.
    assert!(!html.contains("<script>alert"), "escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "shown as text");
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("javascript:"));
    // Self-contained: no script, no stylesheet or image fetched.
    for tag in ["<script", "<link", "<img", "<iframe", "src=\"", "url("] {
        assert!(!html.contains(tag), "nothing fetched: {tag}");
    }
    assert!(html.contains("default-src 'none'"));
    // Keyboard: a skip link, visible focus, every view reachable by links.
    assert!(html.contains(r##"<a class="skip" href="#grid">"##) && html.contains("a:focus"));
    for view in ["#grid", "#rollouts", "#activity", "#customers"] {
        assert!(html.contains(&format!(r#"href="{view}""#)), "{view}");
    }
}

/// Text and background colours of the page meet WCAG AA (4.5:1).
#[test]
fn the_dashboard_colours_have_enough_contrast() {
    let fx = Fixture::new();
    let html = dashboard(&fx);
    let lum = |hex: &str| {
        let c = |i: usize| {
            let v = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(0) + 0.7152 * c(2) + 0.0722 * c(4)
    };
    let ratio = |a: &str, b: &str| {
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    };
    // Each text colour on each background the page uses.
    for fg in ["111111", "555555", "0645ad"] {
        for bg in [
            "ffffff", "eeeeee", "e6f4ea", "fde8e8", "fff4d6", "f9d2d0", "ffe0c2", "eadcf5",
            "dce8fb",
        ] {
            assert!(ratio(fg, bg) >= 4.5, "#{fg} on #{bg}: {:.2}", ratio(fg, bg));
        }
    }
    for colour in [
        "#111", "#555", "#0645ad", "#eee", "#e6f4ea", "#fde8e8", "#fff4d6", "#f9d2d0", "#ffe0c2",
        "#eadcf5", "#dce8fb",
    ] {
        assert!(html.contains(colour), "{colour} is what the page uses");
    }
}

// ---------------------------------------------------------------------------
// What people see: each view rendered by headless Chromium.

/// Fails (never skips) without Chromium (Debian package `chromium`;
/// `.ci/run` installs it), which chromedriver starts.
fn require_chromium() {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    assert!(found, "headless Chromium is not installed; these tests screenshot the dashboard. Install it with `apt-get install -y chromium` (bash .ci/run does) and run again");
}

/// The RGB pixels of a PNG: (width, height, pixels).
fn pixels(png: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

pub(crate) fn has(pixels: &[[u8; 3]], rgb: [u8; 3]) -> usize {
    pixels.iter().filter(|p| **p == rgb).count()
}

/// Each view renders: the grid with acme's staging applied (green) and the
/// pairs never applied (yellow), a failed apply (red) once one is
/// recorded; the chart's bars; a customer's history under its own link,
/// a different picture from the grid.
#[test]
fn each_view_renders_in_headless_chromium() {
    require_terraform();
    let fx = Fixture::new();
    common::run(&fx, &["plan", "--customer", "acme", "--env", "staging"]).ok();
    common::run(&fx, &["apply", "--customer", "acme", "--env", "staging"]).ok();
    dashboard(&fx);
    let page = fx.path("manager/dash.html");
    let shots = Driver::for_screenshots();
    let screenshot = |view: &str| shots.screenshot(&page, view, (1000, 700));

    let (w, h, grid) = screenshot("#grid");
    assert_eq!((w, h), (1000, 700));
    let (green, yellow, red) = ([0xe6, 0xf4, 0xea], [0xff, 0xf4, 0xd6], [0xf9, 0xd2, 0xd0]);
    assert!(
        has(&grid, green) > 500,
        "acme's applied staging cell is green"
    );
    assert!(has(&grid, yellow) > 500, "pairs never applied are yellow");
    // Only the legend's swatch is red: nothing failed yet.
    let legend_red = has(&grid, red);
    assert!(legend_red < 2000, "nothing failed yet: {legend_red}");

    let (_, _, rollouts) = screenshot("#rollouts");
    assert_ne!(rollouts, grid, "the rollouts view is its own");
    assert!(
        has(&rollouts, [0x11, 0x11, 0x11]) > 200,
        "its heading and text"
    );
    assert_eq!(has(&rollouts, green), 0, "no grid on it");

    let (_, _, chart) = screenshot("#activity");
    assert!(
        has(&chart, [0x1f, 0x4e, 0x99]) > 100,
        "the week's apply is a blue bar"
    );

    let (_, _, acme) = screenshot("#customer-acme");
    assert_ne!(acme, grid, "the customer's view is its own");
    assert!(
        has(&acme, [0xee, 0xee, 0xee]) > 500,
        "its history table's header row"
    );

    // A failed apply turns acme's cell red.
    fx.append(
        "manager/.fleetform/audit.jsonl",
        &format!(
            "{{\"time\":\"{}\",\"action\":\"apply\",\"actor\":\"ci\",\"customer\":\"acme\",\"environment\":\"staging\",\"result\":\"failed\"}}\n",
            String::from_utf8(
                std::process::Command::new("date")
                    .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
                    .output()
                    .unwrap()
                    .stdout
            )
            .unwrap()
            .trim()
        ),
    );
    dashboard(&fx);
    let (_, _, grid) = screenshot("#grid");
    assert!(has(&grid, red) > legend_red + 2000, "a failed apply is red");
}

/// chromedriver (Debian `chromium-driver`) on a free port, stopped on drop.
pub(crate) struct Driver {
    child: std::process::Child,
    url: String,
    session: String,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        Self::start_with(&[])
    }

    /// A session for screenshots: no scrollbars drawn over the page.
    pub(crate) fn for_screenshots() -> Driver {
        Self::start_with(&["--hide-scrollbars"])
    }

    fn start_with(extra_args: &[&str]) -> Driver {
        require_chromium();
        let mut args = vec!["--headless=new", "--no-sandbox", "--disable-gpu"];
        args.extend_from_slice(extra_args);
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "args": args}}}});
        // Chromium's start on a busy machine (two cores, Terraform and the
        // static build in the other threads) took over the 5 s once
        // allowed here, and once a chromedriver never made its session in
        // 60 s: a fresh chromedriver gets a second try.
        let mut last = None;
        for _ in 0..2 {
            let mut d = Self::spawn_driver();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
            while std::time::Instant::now() < deadline {
                let answer = d.call("POST", "/session", Some(&caps));
                if let Some(s) = answer
                    .as_ref()
                    .and_then(|v| v["value"]["sessionId"].as_str())
                {
                    d.session = s.to_string();
                    return d;
                }
                last = answer.or(last);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        panic!(
            "chromedriver did not start a session in two tries of 45 s; its last answer: {last:?}"
        );
    }

    /// A chromedriver on a free port.
    fn spawn_driver() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver is not installed; the views tests drive Chromium with it (screenshots, the keyboard, a phone's width). Install it with `apt-get install -y chromium-driver` (bash .ci/run does) and run again");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Option<serde_json::Value> {
        let mut cmd = std::process::Command::new("curl");
        cmd.args([
            "-s",
            "--max-time",
            "30",
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
        ]);
        if let Some(b) = body {
            cmd.args(["-d", &b.to_string()]);
        }
        let out = cmd.arg(format!("{}{path}", self.url)).output().ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Opens `url` in a window of `width` × `height`.
    pub(crate) fn open(&self, url: &str, width: u32, height: u32) {
        self.session(
            "POST",
            "/window/rect",
            Some(serde_json::json!({"width": width, "height": height})),
        );
        self.session("POST", "/url", Some(serde_json::json!({"url": url})));
    }

    /// A screenshot of `page#view`, freshly loaded, with a viewport of
    /// `size` (width, height): (width, height, RGB pixels). One browser
    /// takes every screenshot of a test (`views::` took 21.3 and 24.1 s of
    /// CPU so, 25.0 and 25.9 with a headless Chromium per screenshot).
    pub(crate) fn screenshot(
        &self,
        page: &std::path::Path,
        view: &str,
        size: (u32, u32),
    ) -> (u32, u32, Vec<[u8; 3]>) {
        self.viewport(size);
        // A fresh load, as a new window would make: the same page with
        // another fragment would only scroll, and a rewritten one would
        // not be read again.
        self.session(
            "POST",
            "/url",
            Some(serde_json::json!({"url": "about:blank"})),
        );
        let url = format!("file://{}{view}", page.display());
        self.session("POST", "/url", Some(serde_json::json!({"url": url})));
        let png = self.session("GET", "/screenshot", None);
        let png = png.as_str().expect("a base64 PNG");
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png)
            .expect("the screenshot is base64");
        pixels(&png)
    }

    /// Sizes the window so that the page's viewport is `size`: a window
    /// of headless Chromium also holds the browser's own bars.
    fn viewport(&self, (width, height): (u32, u32)) {
        let mut window = (width, height);
        for _ in 0..3 {
            self.session(
                "POST",
                "/window/rect",
                Some(serde_json::json!({"width": window.0, "height": window.1})),
            );
            let inner = self.eval("return [window.innerWidth, window.innerHeight];");
            let inner = |i: usize| inner[i].as_u64().expect("a size") as u32;
            if (inner(0), inner(1)) == (width, height) {
                return;
            }
            window = (window.0 + width - inner(0), window.1 + height - inner(1));
        }
        panic!("the viewport could not be made {width}x{height}");
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub(crate) fn eval(&self, script: &str) -> serde_json::Value {
        self.session(
            "POST",
            "/execute/sync",
            Some(serde_json::json!({"script": script, "args": []})),
        )
    }

    fn session(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        self.call(
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        )
        .unwrap_or_else(|| panic!("{method} {path}: no answer"))["value"]
            .clone()
    }

    /// Presses a key (WebDriver key code) and returns the focused element.
    fn press(&self, key: &str) -> String {
        let actions = serde_json::json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]});
        self.session("POST", "/actions", Some(actions));
        self.active()
    }

    /// The focused element.
    fn active(&self) -> String {
        let active = self.session("GET", "/element/active", None);
        active
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_str())
            .unwrap()
            .to_string()
    }

    /// Waits (at most 10 s) until the page has the keyboard: twice under
    /// the whole suite's load the first Tab stayed on the page's body, as
    /// a Tab does that enters a page from outside it.
    fn await_keyboard(&self) {
        for i in 0..200 {
            if self.eval("return document.hasFocus();") == serde_json::Value::Bool(true) {
                return;
            }
            if i % 20 == 19 {
                self.eval("window.focus();");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the page never had the keyboard's focus in 10 s");
    }

    /// Presses Tab and returns the element it focuses, waiting (at most
    /// 5 s) for the focus to leave the element it was on, should it move
    /// after the key's answer.
    fn tab(&self) -> String {
        let before = self.active();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut now = self.press(TAB);
        while now == before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            now = self.active();
        }
        now
    }

    fn text(&self, element: &str) -> String {
        self.session("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// With the keyboard alone: the skip link comes first, every view is a
/// Tab away, focus is visible, and Enter on a customer opens its page.
#[test]
fn the_keyboard_reaches_every_view() {
    let fx = Fixture::new();
    dashboard(&fx);
    let page = fx.path("manager/dash.html");
    let d = Driver::start();
    d.session(
        "POST",
        "/url",
        Some(serde_json::json!({"url": format!("file://{}", page.display())})),
    );
    d.await_keyboard();
    let mut order = Vec::new();
    for _ in 0..6 {
        let el = d.tab();
        order.push(d.text(&el));
    }
    assert_eq!(
        order,
        [
            "Skip to the fleet grid",
            "Fleet",
            "Rollouts",
            "Drift by cause",
            "Applies per week",
            "Customers"
        ]
    );
    let focused = d.tab();
    assert_eq!(d.text(&focused), "acme", "then the grid's first customer");
    let outline = d.session(
        "GET",
        &format!("/element/{focused}/css/outline-style"),
        None,
    );
    assert_eq!(outline, "solid", "focus is visible");
    d.press(ENTER);
    let url = d.session("GET", "/url", None);
    assert!(url.as_str().unwrap().ends_with("#customer-acme"), "{url}");
    let heading = d.session(
        "POST",
        "/element",
        Some(serde_json::json!({"using": "css selector", "value": "#customer-acme h2"})),
    );
    let heading = heading
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|v| v.as_str())
        .unwrap()
        .to_string();
    assert_eq!(d.text(&heading), "acme", "its page is shown");
    let grid = d.session(
        "POST",
        "/element",
        Some(serde_json::json!({"using": "css selector", "value": "#grid h2"})),
    );
    let grid = grid
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|v| v.as_str())
        .unwrap()
        .to_string();
    assert_eq!(
        d.text(&grid),
        "",
        "the grid is hidden while a customer's page is shown"
    );
}
