//! A real browser for the UI tests: Debian's Chromium, headless, driven
//! through chromedriver's WebDriver endpoint. Screenshots of each page at an
//! office PC's 1366×768 and a guard tablet's 768 px width land in
//! `target/screenshots/` (git-ignored).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::{Server, free_port, password, repo};

pub struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn chromedriver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver; run `make setup`)");
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver(child, port)
}

pub async fn browser(driver: &Driver) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768",
                     "--autoplay-policy=no-user-gesture-required"]
        }
    });
    let Value::Object(caps) = caps else { unreachable!() };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a WebDriver session with headless Chromium")
}

pub async fn sign_in(c: &Client, server: &Server, username: &str) {
    c.goto(&format!("{}/", server.url())).await.expect("goto");
    c.wait().for_element(Locator::Id("username")).await.expect("form").send_keys(username).await.expect("type");
    c.find(Locator::Id("password")).await.expect("pw").send_keys(&password(username)).await.expect("type");
    c.find(Locator::Id("login-button")).await.expect("button").click().await.expect("click");
    let until = Instant::now() + Duration::from_secs(10);
    while c.current_url().await.expect("url").path() == "/" {
        assert!(Instant::now() < until, "still on the login page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script")
}

/// Waits until `script` returns `want` (at most `limit`); panics with `what`.
pub async fn wait_for(c: &Client, script: &str, want: Value, limit: Duration, what: &str) {
    let until = Instant::now() + limit;
    loop {
        let got = js(c, script).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < until, "{what}: got {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn screenshots() -> std::path::PathBuf {
    let dir = repo().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}

/// The page as an office PC (1366×768) and a guard's tablet (768 px wide)
/// show it: `NAME-1366.png`, `NAME-768.png`. The window is left at 1366×768.
pub async fn screenshot_both(c: &Client, name: &str) {
    for (w, h) in [(768, 1024), (1366, 768)] {
        c.set_window_size(w, h).await.expect("window");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(screenshots().join(format!("{name}-{w}.png")), png).expect("save");
    }
}

/// Words a person must never read on a Vietnamese page: snake_case
/// identifiers and the raw names of kinds, categories and roles. Text in
/// `<code>` (a CSV file's column names, typed as they are) is left out.
pub async fn untranslated(c: &Client) -> Vec<String> {
    let found = js(
        c,
        r#"const codes = Array.from(document.querySelectorAll('code'));
           codes.forEach(c => { c.dataset.display = c.style.display; c.style.display = 'none'; });
           const text = document.body.innerText;
           codes.forEach(c => { c.style.display = c.dataset.display; });
           const raw = /\b(?:[a-z]+_[a-z_]+|watchlist|unknown|staff|resident|visitor|superadmin|guard|entry|exit|anomaly|undefined|null|NaN)\b/g;
           return Array.from(new Set(text.match(raw) || []));"#,
    )
    .await;
    found.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}
