//! The web console for the accounting staff (`[web]`): served by the
//! daemon beside its cycle, or alone by `billmail web`. Pages are rendered
//! on the server from minijinja templates embedded in the binary
//! (`src/web/templates`), with one stylesheet and no script: nothing is
//! fetched from anywhere at run time, and the Content-Security-Policy says
//! so to the browser. Every change goes through the same functions as the
//! command line (`intake::approve`, `intake::reject`, the payment and
//! outbox functions), with the user's name recorded.

mod auth;
mod chart;
mod pages;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::connect_info::Connected;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Web};
use crate::daemon::Clock;
use crate::render::Renderer;
use crate::store::Store;

pub use auth::{ROLES, check_new_password, hash_password};

/// What every page is served from.
pub struct App {
    config: Config,
    web: Web,
    store: Store,
    renderer: Renderer,
    env: minijinja::Environment<'static>,
    clock: Clock,
    /// A hash to verify against when a login names no user (same time either way).
    dummy_hash: String,
    /// One message per session for the next page it sees ("payment recorded").
    flashes: Mutex<HashMap<String, Flash>>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// The client's address, as logged and rate-limited.
#[derive(Clone, Debug)]
pub struct Remote(pub String);

impl Connected<IncomingStream<'_, TcpListener>> for Remote {
    fn connect_info(s: IncomingStream<'_, TcpListener>) -> Self {
        Remote(s.remote_addr().ip().to_string())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Remote {
    fn connect_info(s: IncomingStream<'_, TlsListener>) -> Self {
        Remote(s.remote_addr().ip().to_string())
    }
}

/// An error the user cannot fix: logged whole, shown as one line.
fn failure(e: &anyhow::Error) -> Response {
    tracing::error!("web: {e:#}");
    auth::refusal(StatusCode::INTERNAL_SERVER_ERROR, &format!("billmail could not do this: {e:#}"))
}

impl App {
    pub fn new(config: Config, store: Store, clock: Clock) -> Result<App> {
        let web = config.web.clone().context("no [web] section in the config")?;
        let renderer = Renderer::for_config(&config)?;
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        // src/web/templates/*.j2, embedded by build.rs
        minijinja_embed::load_templates!(&mut env, "web");
        // a stored moment (UTC) as the company's clock shows it
        let tz = config.company.timezone;
        env.add_filter("local", move |s: String| -> String {
            match chrono::DateTime::parse_from_rfc3339(&s) {
                Ok(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
                Err(_) => s.get(..16).unwrap_or(&s).replace('T', " "),
            }
        });
        Ok(App {
            config,
            web,
            store,
            renderer,
            env,
            clock,
            dummy_hash: hash_password("not anyone's password")?,
            flashes: Mutex::new(HashMap::new()),
        })
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
            Err(e) => failure(&anyhow::anyhow!("template {name}: {e:#}")),
        }
    }

    fn flash(&self, session: &str, ok: bool, text: impl Into<String>) {
        self.flashes.lock().expect("flash lock").insert(session.to_string(), Flash { ok, text: text.into() });
    }

    fn take_flash(&self, session: &str) -> Option<Flash> {
        self.flashes.lock().expect("flash lock").remove(session)
    }

    fn today(&self) -> chrono::NaiveDate {
        crate::domain::calendar::local_date(&self.clock.now(), self.config.company.timezone)
    }
}

/// Every response: nothing from elsewhere, no framing by others, nothing cached.
async fn headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
    ));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    r
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/review") }))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/static/style.css", get(pages::style))
        .route("/review", get(pages::review_list))
        .route("/review/{id}", get(pages::review_item))
        .route("/review/{id}/approve", post(pages::review_approve))
        .route("/review/{id}/correct", post(pages::review_correct))
        .route("/review/{id}/reject", post(pages::review_reject))
        .route("/accounts", get(pages::accounts))
        .route("/accounts/{id}", get(pages::account))
        .route("/accounts/{id}/payments", post(pages::record_payment))
        .route("/accounts/{id}/hold", post(pages::hold))
        .route("/invoices", get(pages::invoices))
        .route("/invoices/{number}", get(pages::invoice))
        .route("/invoices/{number}/html", get(pages::invoice_html))
        .route("/invoices/{number}/pdf", get(pages::invoice_pdf))
        .route("/aging", get(pages::aging))
        .route("/operations", get(pages::operations))
        .route("/outbox/{id}/retry", post(pages::outbox_retry))
        .fallback(|| async { auth::refusal(StatusCode::NOT_FOUND, "There is no such page.") })
        .layer(axum::middleware::map_response(headers))
        .with_state(app)
}

/// HTTPS on a listener of our own: each connection's handshake is done
/// before it is handed to the server (at most 10 s each).
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = match self.tcp.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("web: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            match tokio::time::timeout(std::time::Duration::from_secs(10), self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::info!("web: TLS handshake from {addr}: {e}"),
                Err(_) => tracing::info!("web: TLS handshake from {addr} timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("[web] tls_cert {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("[web] tls_cert {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("[web] tls_key {}", key.display()))?;
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(crate::tls_provider())
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("[web] tls_cert and tls_key do not make a usable certificate")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves the console until `stop` is cancelled.
pub async fn serve(config: Config, store: Store, clock: Clock, stop: CancellationToken) -> Result<()> {
    let app = Arc::new(App::new(config, store, clock)?);
    let web = app.web.clone();
    let tcp = TcpListener::bind(web.listen).await.with_context(|| format!("[web] listen {}", web.listen))?;
    let routes = router(app);
    let shutdown = async move { stop.cancelled().await };
    match &web.tls {
        None => {
            tracing::info!("web console on http://{}", web.listen);
            axum::serve(tcp, routes.into_make_service_with_connect_info::<Remote>())
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some((cert, key)) => {
            let acceptor = tls_acceptor(cert, key)?;
            tracing::info!("web console on https://{}", web.listen);
            axum::serve(TlsListener { tcp, acceptor }, routes.into_make_service_with_connect_info::<Remote>())
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    Ok(())
}
