//! The thirteen checks themselves. Each takes the shared [`Context`] and does its own network
//! work from scratch, so all can run at once; messages name the host, the account and the
//! stage, and say what to do. No check may put a password into its outcome.

use std::sync::Arc;

use super::{CheckId, Input, Options, Outcome};
use crate::engine::target;
use crate::exchange::autodiscover::{self, AutodiscoverError};
use crate::exchange::client::{Credentials, Session, SessionError};
use crate::exchange::ews::{Ews, Mail};
use crate::exchange::http::{self, ConnectOptions, Connection, Endpoint, HttpError, TlsFailure};
use crate::exchange::ops::{Exchange as _, ExchangeError};
use crate::exchange::powershell::RemotePowerShell;
use crate::exchange::powershell::{PoolOptions, PsError, RunspacePool, SessionFactory};
use crate::exchange::{activesync, activesync::ActiveSyncError};

/// What every check shares: where to connect and as whom.
pub(super) struct Context {
    input: Input,
    opts: Options,
    /// The PowerShell endpoint, when the configuration names a server.
    endpoint: Option<Endpoint>,
    connect: Result<ConnectOptions, HttpError>,
    /// The service account's one sign-in (check 7). The checks that open runspaces as that
    /// account (8–10) wait for it, so a wrong password is tried once, not once per check:
    /// every failed try counts toward the account's lockout.
    service_sign_in: tokio::sync::OnceCell<Result<Outcome, Outcome>>,
}

impl Context {
    /// The service account as configured (empty when none is), for messages.
    fn service_user(&self) -> String {
        self.input
            .config
            .service_account
            .user
            .clone()
            .unwrap_or_default()
    }

    pub(super) fn new(input: Input, opts: Options) -> Context {
        let endpoint =
            target::powershell_endpoint(&input.config, &opts.powershell_path).and_then(Result::ok);
        let connect =
            target::connect_options(&input.config, input.proxy_password.as_ref()).map(|mut o| {
                o.connect_timeout = opts.check_timeout;
                o.request_timeout = opts.check_timeout;
                o
            });
        Context {
            input,
            opts,
            endpoint,
            connect,
            service_sign_in: tokio::sync::OnceCell::new(),
        }
    }

    /// Check 7's sign-in, made once and shared.
    async fn service_signed_in(&self) -> Result<Outcome, Outcome> {
        self.service_sign_in
            .get_or_init(|| service_sign_in(self))
            .await
            .clone()
    }

    pub(super) fn proxy_enabled(&self) -> bool {
        self.input.config.proxy.enabled
    }

    pub(super) fn explicit_ews(&self) -> bool {
        self.input.config.exchange_web_service_url.is_some()
    }

    fn endpoint(&self) -> Result<&Endpoint, Outcome> {
        self.endpoint.as_ref().ok_or_else(|| {
            Outcome::fail(
                "no Exchange server is configured",
                "set ClientAccessServer (on-premises) or HostedServerAddress (hosted)",
            )
        })
    }

    fn connect(&self) -> Result<&ConnectOptions, Outcome> {
        self.connect.as_ref().map_err(|e| {
            Outcome::fail(
                e.to_string(),
                "fix TrustedCaFile: it must be a PEM file of CA certificates",
            )
        })
    }

    fn service(&self) -> Option<Credentials> {
        Some(Credentials {
            user: self.input.config.service_account.user.clone()?,
            password: self.input.service_password.clone()?,
        })
    }

    fn notification(&self) -> Option<Credentials> {
        Some(Credentials {
            user: self.input.config.notification_account.user.clone()?,
            password: self.input.notification_password.clone()?,
        })
    }

    /// `host:port` of the CAS, for Autodiscover's first candidate.
    fn cas_address(&self) -> Option<String> {
        self.endpoint.as_ref().map(Endpoint::authority)
    }

    async fn open_pool(&self) -> Result<RunspacePool, Outcome> {
        // Not before the account is known to sign in (see `service_sign_in`).
        self.service_signed_in().await?;
        let ep = self.endpoint()?.clone();
        let connect = self.connect()?.clone();
        let creds = self.service().ok_or_else(|| {
            Outcome::fail(
                "no service account credentials",
                "set ServiceAccount/User and store its password",
            )
        })?;
        let mut po = PoolOptions::exchange(&ep.url());
        po.resource_uri = self.opts.resource_uri.clone();
        po.operation_timeout_secs = u32::try_from(self.opts.check_timeout.as_secs())
            .unwrap_or(20)
            .max(5);
        let factory_ep = ep.clone();
        let factory_connect = connect.clone();
        let factory_creds = creds.clone();
        let factory: SessionFactory = Arc::new(move || {
            Session::connect(factory_ep.clone(), factory_connect.clone(), &factory_creds)
        });
        RunspacePool::open(Session::connect(ep, connect, &creds), factory, &po)
            .await
            .map_err(|e| ps_failure(&e, &creds.user))
    }
}

/// Turn a connection error into an outcome with a fix.
fn http_failure(e: &HttpError) -> Outcome {
    let fix = match e {
        HttpError::Dns { .. } => "check the server name, or that this machine's DNS servers know it",
        HttpError::Refused { .. } => "check the server name and port; is IIS running and the firewall open on that port?",
        HttpError::ConnectTimeout { .. } | HttpError::Timeout { .. } => "check firewalls between this machine and the server",
        HttpError::ProxyUnreachable { .. } => "check Proxy/Host and Proxy/Port, and that the proxy is running",
        HttpError::ProxyAuth { .. } => "check Proxy/User and the stored proxy password",
        HttpError::ProxyRefused { .. } => "ask the proxy's administrator to allow CONNECT to this server and port",
        HttpError::Tls { failure, .. } => match failure {
            TlsFailure::UnknownIssuer => "add the issuing CA certificate (PEM) to TrustedCaFile, or to this machine's trusted root store",
            TlsFailure::NameMismatch => "use the name the certificate was issued for as ClientAccessServer, or reissue the certificate with this name",
            TlsFailure::Expired | TlsFailure::NotYetValid => "renew the server's certificate, and check both machines' clocks",
            TlsFailure::NotTls => "this port serves plain HTTP; use the HTTPS port (443) or enable SSL on the site",
            _ => "check the server's TLS configuration",
        },
        HttpError::TrustedCa { .. } => "fix TrustedCaFile: it must be a readable PEM file of CA certificates",
        _ => "check the network path to the server and retry",
    };
    Outcome::fail(e.to_string(), fix)
}

fn session_failure(e: &SessionError, what: &str) -> Outcome {
    match e {
        SessionError::Http(h) => http_failure(h),
        SessionError::Unauthorized { .. } => Outcome::fail(e.to_string(), format!("check {what}'s user name (DOMAIN\\user or UPN) and re-enter its password")),
        SessionError::SchemeNotOffered {
            url,
            scheme,
            offered,
        } => Outcome::fail(
            format!(
                "{url}: the server does not accept {scheme} (it offers {})",
                offered.join(", ")
            ),
            crate::exchange::client::scheme_fix(scheme, offered),
        ),
        SessionError::NoSupportedScheme { .. } => Outcome::fail(
            e.to_string(),
            "the connector signs in with Kerberos, Negotiate, NTLM, or Basic over HTTPS; check the virtual directory's authentication",
        ),
        SessionError::HandshakeCut { .. } => Outcome::fail(
            e.to_string(),
            "Kerberos and NTLM need one kept-alive connection from start to end: let the proxy or load balancer keep connections (or pin them)",
        ),
        SessionError::Throttled { .. } => Outcome::fail(e.to_string(), "the server is overloaded or throttling this account; retry later"),
        SessionError::Kerberos { url, error } => Outcome::fail(format!("{url}: {error}"), error.fix()),
        SessionError::KerberosOnly { url, offered, kerberos } => Outcome::fail(
            format!(
                "{url}: the server accepts Kerberos only (it offers {}), and Kerberos could not be used: {kerberos}",
                offered.join(", ")
            ),
            format!("make Kerberos work, the server needs no change: {}", kerberos.fix()),
        ),
        SessionError::Auth(_) => Outcome::fail(e.to_string(), "check the account"),
        SessionError::BasicOverPlainHttp { .. } => Outcome::fail(
            e.to_string(),
            "use an https:// address, or set AuthenticationMethod to Auto, Kerberos, Negotiate or Ntlm (WinRM messages are then encrypted over HTTP)",
        ),
        SessionError::EncryptionUnavailable { .. } | SessionError::Encryption { .. } => Outcome::fail(
            e.to_string(),
            "use an https:// address; WinRM over plain HTTP needs Kerberos, NTLM or Negotiate with message encryption",
        ),
    }
}

fn exchange_failure(e: &ExchangeError, user: &str) -> Outcome {
    match e {
        ExchangeError::PowerShell(e) => ps_failure(e, user),
    }
}

fn ps_failure(e: &PsError, user: &str) -> Outcome {
    match e {
        PsError::Session(s) => session_failure(s, user),
        PsError::Fault { fault, .. } => Outcome::fail(
            e.to_string(),
            match fault.subcode.as_deref() {
                Some("AccessDenied") => "the account may not use remote PowerShell: Set-User <account> -RemotePowerShellEnabled $true".to_string(),
                _ => "read the server's message; check the PowerShell virtual directory and the account's rights".to_string(),
            },
        ),
        PsError::Protocol { .. } => Outcome::fail(e.to_string(), "check that the path is Exchange's PowerShell virtual directory (/PowerShell)"),
        _ => Outcome::fail(e.to_string(), "retry; if it persists, check the Exchange server's event log"),
    }
}

pub(super) async fn run(id: CheckId, ctx: &Context) -> Outcome {
    let r = match id {
        CheckId::Config => config(ctx),
        CheckId::Dns => dns(ctx).await,
        CheckId::Proxy => proxy(ctx).await,
        CheckId::Tcp => tcp(ctx).await,
        CheckId::Tls => tls(ctx).await,
        CheckId::WinRm => winrm(ctx).await,
        CheckId::ServiceAccount => service_account(ctx).await,
        CheckId::Runspace => runspace(ctx).await,
        CheckId::Cmdlets => cmdlets(ctx).await,
        CheckId::ExchangeServers => exchange_servers(ctx).await,
        CheckId::Autodiscover => autodiscover_check(ctx).await.map(|(o, _)| o),
        CheckId::Ews => ews(ctx).await,
        CheckId::ActiveSync => activesync_check(ctx).await,
    };
    r.unwrap_or_else(|o| o)
}

fn config(ctx: &Context) -> Result<Outcome, Outcome> {
    let cfg = &ctx.input.config;
    let mut problems: Vec<String> = ctx
        .input
        .config_problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    if ctx.input.service_password.is_none() {
        problems.push("no service account password is stored".into());
    }
    if ctx.input.notification_password.is_none() {
        problems.push("no notification account password is stored".into());
    }
    if cfg.proxy.enabled && cfg.proxy.use_credentials && ctx.input.proxy_password.is_none() {
        problems.push("no proxy password is stored".into());
    }
    if ctx.endpoint.is_none() && problems.is_empty() {
        problems.push("no usable Exchange server address".into());
    }
    if let Err(e) = &ctx.connect {
        problems.push(e.to_string());
    }
    if problems.is_empty() {
        Ok(Outcome::pass(format!(
            "complete; {}",
            ctx.endpoint.as_ref().map(|e| e.url()).unwrap_or_default()
        )))
    } else {
        Err(Outcome::fail(
            problems.join("; "),
            "complete the configuration (setup wizard, `config set`, `config set-password`)",
        ))
    }
}

async fn dns(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?;
    if ep.host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(Outcome::pass(format!("{} is an IP address", ep.host)));
    }
    match http::resolve_all(&ep.host, ep.port).await {
        Ok(addrs) => {
            let mut list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            list.dedup();
            Ok(Outcome::pass(format!("{} → {}", ep.host, list.join(", "))))
        }
        Err(e) if ctx.proxy_enabled() => Ok(Outcome::warn(
            format!("{e}; the proxy resolves names itself, so this may be fine"),
            "if the connection fails too, check the name",
        )),
        Err(e) => Err(http_failure(&e)),
    }
}

async fn proxy(ctx: &Context) -> Result<Outcome, Outcome> {
    if !ctx.proxy_enabled() {
        return Ok(Outcome::not_applicable("not used (Proxy/Enabled is false)"));
    }
    let ep = ctx.endpoint()?;
    let connect = ctx.connect()?;
    let p = connect
        .proxy
        .as_ref()
        .map(|p| format!("{}:{}", p.host, p.port))
        .unwrap_or_default();
    match http::open_tcp(ep, connect).await {
        Ok(_) => Ok(Outcome::pass(format!(
            "{p} accepted CONNECT to {}",
            ep.authority()
        ))),
        // The proxy works but could not reach the server: that is the TCP check's failure.
        Err(HttpError::ProxyRefused {
            status: 500 | 502 | 503 | 504,
            ..
        }) => Ok(Outcome::pass(format!(
            "{p} accepted the request and credentials"
        ))),
        Err(e) => Err(http_failure(&e)),
    }
}

async fn tcp(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?;
    let connect = ctx.connect()?;
    let t0 = std::time::Instant::now();
    match http::open_tcp(ep, connect).await {
        Ok(s) => {
            let peer = if ctx.proxy_enabled() {
                format!("{} through the proxy", ep.authority())
            } else {
                s.peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| ep.authority())
            };
            Ok(Outcome::pass(format!(
                "connected to {peer} in {} ms",
                t0.elapsed().as_millis()
            )))
        }
        Err(HttpError::ProxyRefused {
            status,
            proxy,
            target,
            ..
        }) if matches!(status, 500 | 502 | 503 | 504) => Err(Outcome::fail(
            format!("the proxy {proxy} could not connect to {target} (HTTP {status})"),
            "check the server name and port, and that the proxy may reach it",
        )),
        Err(e) => Err(http_failure(&e)),
    }
}

async fn tls(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?;
    let connect = ctx.connect()?;
    // Over http:// PowerShell is sealed by Kerberos/NTLM; EWS, Autodiscover and ActiveSync
    // still use HTTPS on the same server, so that is the certificate to check.
    let https;
    let (ep, prefix) = if ep.https {
        (ep, String::new())
    } else {
        https = Endpoint::parse(&format!("https://{}/", ep.authority()))
            .map_err(|e| Outcome::fail(e.to_string(), "check the server address"))?;
        (
            &https,
            format!(
                "PowerShell uses {} (messages sealed); HTTPS for EWS and ActiveSync at {}: ",
                ep.url(),
                https.authority()
            ),
        )
    };
    match Connection::open(ep, connect).await {
        Ok(_) => {
            let cert = http::peer_certificate(ep, connect).await;
            Ok(Outcome::pass(match cert {
                Some(c) => format!("{prefix}trusted; {c}"),
                None => format!("{prefix}trusted"),
            }))
        }
        Err(e @ HttpError::Tls { .. }) => {
            let mut o = http_failure(&e);
            o.detail = format!("{prefix}{}", o.detail);
            if let Some(c) = http::peer_certificate(ep, connect).await {
                o.detail = format!("{}; the server's certificate: {c}", o.detail);
            }
            Err(o)
        }
        Err(e) => {
            let mut o = http_failure(&e);
            o.detail = format!("{prefix}{}", o.detail);
            Err(o)
        }
    }
}

async fn winrm(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?;
    let connect = ctx.connect()?;
    let mut c = Connection::open(ep, connect)
        .await
        .map_err(|e| http_failure(&e))?;
    let req = hyper::Request::post(&ep.path)
        .header("content-type", "application/soap+xml;charset=UTF-8")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .map_err(|e| Outcome::fail(e.to_string(), "check the PowerShell path"))?;
    let resp = c.send(req).await.map_err(|e| http_failure(&e))?;
    let schemes = crate::exchange::client::offered_schemes(&resp);
    match resp.status {
        401 if !schemes.is_empty() => Ok(Outcome::pass(format!("{} asks for authentication: {}", ep.url(), schemes.join(", ")))),
        503 => Err(Outcome::fail(
            format!("{} answers HTTP 503: the server is throttling requests or overloaded", ep.authority()),
            "wait and retry; if it persists, check the Exchange server's load and throttling policy",
        )),
        404 => Err(Outcome::fail(
            format!("{} answers HTTP 404: there is no PowerShell virtual directory at {}", ep.authority(), ep.path),
            "Exchange's endpoint is /PowerShell; check the server is an Exchange CAS",
        )),
        s => Err(Outcome::fail(format!("{} answers HTTP {s} instead of asking for authentication; it does not look like Exchange's PowerShell endpoint", ep.url()), "check the server name and the path /PowerShell")),
    }
}

async fn service_account(ctx: &Context) -> Result<Outcome, Outcome> {
    ctx.service_signed_in().await
}

async fn service_sign_in(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?.clone();
    let creds = ctx.service().ok_or_else(|| {
        Outcome::fail(
            "no service account credentials",
            "set ServiceAccount/User and store its password",
        )
    })?;
    let mut s = Session::connect(ep.clone(), ctx.connect()?.clone(), &creds);
    match s
        .request(
            hyper::Method::POST,
            &ep.path,
            Some("application/soap+xml;charset=UTF-8"),
            bytes::Bytes::new(),
        )
        .await
    {
        // Anything but 401 means the server accepted who we are (the empty body itself is rejected).
        Ok(_) => Ok(signed_in(&creds.user, &s, "")),
        Err(e) => Err(session_failure(
            &e,
            crate::config::fields::SERVICE_ACCOUNT_USER.path,
        )),
    }
}

/// "LAB\\svc signed in with Kerberos{what}" — and, when Kerberos was passed over, why — with
/// the mechanism as data for the wizard.
fn signed_in(user: &str, s: &Session, what: &str) -> Outcome {
    let mech = s
        .mechanism_used()
        .map(|m| m.to_string())
        .unwrap_or_else(|| "no authentication asked".into());
    let not_used = s.kerberos_unavailable().map(|k| k.to_string());
    let detail = match &not_used {
        Some(k) => format!("{user} signed in with {mech}{what}; Kerberos was not used: {k}"),
        None => format!("{user} signed in with {mech}{what}"),
    };
    let outcome = Outcome::pass(detail);
    match s.mechanism_used() {
        Some(mechanism) => outcome.with_sign_in(super::SignIn {
            mechanism,
            kerberos_not_used: not_used,
        }),
        None => outcome,
    }
}

async fn runspace(ctx: &Context) -> Result<Outcome, Outcome> {
    let pool = ctx.open_pool().await?;
    let _ = pool.clone().close().await;
    Ok(Outcome::pass(format!(
        "opened a runspace in {}",
        ctx.opts
            .resource_uri
            .rsplit('/')
            .next()
            .unwrap_or("Microsoft.Exchange")
    )))
}

async fn cmdlets(ctx: &Context) -> Result<Outcome, Outcome> {
    let pool = ctx.open_pool().await?;
    let user = ctx.service_user();
    let mut ex = RemotePowerShell::new(pool.clone(), None);
    if let Ok(servers) = ex.get_exchange_servers().await {
        ex.set_version(servers.iter().filter_map(|s| s.version).max());
    }
    let result = ex.check_cmdlets().await;
    let _ = pool.close().await;
    let check = result.map_err(|e| ps_failure(&e, &user))?;
    if check.missing.is_empty() {
        return Ok(Outcome::pass(format!(
            "all {} required cmdlets are available to {user}",
            check.available.len()
        )));
    }
    let mut groups: Vec<&str> = check.missing.iter().map(|(_, g)| g.label()).collect();
    groups.sort_unstable();
    groups.dedup();
    let list: Vec<String> = check
        .missing
        .iter()
        .map(|(c, g)| format!("{c} ({})", g.label()))
        .collect();
    Err(Outcome::fail(
        format!(
            "{user} may not run {} required cmdlet(s): {}",
            check.missing.len(),
            list.join(", ")
        ),
        format!("add {user} to: {}", groups.join(", ")),
    ))
}

async fn exchange_servers(ctx: &Context) -> Result<Outcome, Outcome> {
    let pool = ctx.open_pool().await?;
    let user = ctx.service_user();
    let result = RemotePowerShell::new(pool.clone(), None)
        .get_exchange_servers()
        .await;
    let _ = pool.close().await;
    let servers = result.map_err(|e| exchange_failure(&e, &user))?;
    let cas: Vec<_> = servers
        .iter()
        .filter(|s| s.is_client_access_server)
        .collect();
    let version = servers
        .iter()
        .filter_map(|s| s.version)
        .max()
        .map(|v| v.product())
        .unwrap_or("unknown version");
    let names: Vec<String> = cas
        .iter()
        .map(|s| {
            if s.fqdn.is_empty() {
                s.name.clone()
            } else {
                format!("{} ({})", s.name, s.fqdn)
            }
        })
        .collect();
    let detail = format!(
        "{} Client Access Server(s), {version}: {}",
        cas.len(),
        names.join(", ")
    );
    if ctx.input.config.is_cas_failover_enabled && cas.len() < 2 {
        return Ok(Outcome::warn(
            detail,
            "CAS failover is on, but there is no other server to fail over to",
        ));
    }
    Ok(Outcome::pass(detail))
}

/// The EWS URL (from the configuration or Autodiscover) and the outcome of finding it.
async fn autodiscover_check(ctx: &Context) -> Result<(Outcome, String), Outcome> {
    if let Some(url) = &ctx.input.config.exchange_web_service_url {
        return Ok((
            Outcome::pass(format!(
                "ExchangeWebServiceURL is set ({url}); Autodiscover is not used"
            )),
            url.clone(),
        ));
    }
    let creds = ctx.notification().ok_or_else(|| {
        Outcome::fail(
            "no notification account credentials",
            "set NotificationAccount/User and store its password",
        )
    })?;
    let mailbox = ctx
        .input
        .config
        .notification_account
        .mailbox
        .clone()
        .ok_or_else(|| {
            Outcome::fail("no notification mailbox", "set NotificationAccount/Mailbox")
        })?;
    match autodiscover::discover(&mailbox, ctx.cas_address().as_deref(), ctx.connect()?, &creds).await {
        Ok(d) => {
            let via = d.attempts.last().map(|a| a.step).unwrap_or("Autodiscover");
            Ok((Outcome::pass(format!("{} → {} (via {via})", d.email, d.ews_url)), d.ews_url))
        }
        Err(e @ AutodiscoverError::UnknownMailbox { .. }) => Err(Outcome::fail(e.to_string(), "check NotificationAccount/Mailbox: it must be the primary SMTP address of an existing mailbox")),
        Err(e) => Err(Outcome::fail(e.to_string(), "publish Autodiscover for the mailbox's domain, or set ExchangeWebServiceURL")),
    }
}

async fn ews(ctx: &Context) -> Result<Outcome, Outcome> {
    let (_, url) = autodiscover_check(ctx).await?;
    let ep = Endpoint::parse(&url)
        .map_err(|e| Outcome::fail(e.to_string(), "check ExchangeWebServiceURL"))?;
    let creds = ctx.notification().ok_or_else(|| {
        Outcome::fail(
            "no notification account credentials",
            "set NotificationAccount/User and store its password",
        )
    })?;
    let mut client = Ews::new(
        Session::connect(ep.clone(), ctx.connect()?.clone(), &creds),
        &ep.path,
    );
    let fail = |e: crate::exchange::ews::EwsError| match e {
        crate::exchange::ews::EwsError::Session(s) => {
            session_failure(&s, "NotificationAccount/User")
        }
        other => Outcome::fail(
            other.to_string(),
            "check that the notification account owns the mailbox and may use EWS",
        ),
    };
    client.check_mailbox().await.map_err(fail)?;
    if ctx.opts.send_test_mail {
        let to = ctx
            .input
            .config
            .notification_account
            .mailbox
            .clone()
            .unwrap_or_default();
        let mail = Mail {
            to: vec![to.clone()],
            subject: "EAS Connector test mail".into(),
            html_body: "<p>This is a test mail from EAS Connector's connectivity validation. Notifications to device owners will come from this mailbox.</p>".into(),
            from: None,
        };
        client.send(&mail).await.map_err(fail)?;
        return Ok(signed_in(
            &creds.user,
            client.session(),
            &format!(" to EWS and sent a test mail to {to}"),
        ));
    }
    Ok(signed_in(
        &creds.user,
        client.session(),
        " to EWS and opened the mailbox",
    ))
}

async fn activesync_check(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?.clone();
    let creds = ctx
        .notification()
        .or_else(|| ctx.service())
        .ok_or_else(|| Outcome::fail("no credentials", "store the account passwords"))?;
    // ActiveSync is served over HTTPS even when PowerShell is reached over http://.
    let ep = Endpoint::parse(&format!(
        "https://{}/Microsoft-Server-ActiveSync",
        ep.authority()
    ))
    .map_err(|e| Outcome::fail(e.to_string(), "check the server address"))?;
    let mut s = Session::connect(ep, ctx.connect()?.clone(), &creds);
    match activesync::options(&mut s).await {
        Ok(info) => Ok(Outcome::pass(format!(
            "ActiveSync {} offers protocol versions {}",
            info.server_version.unwrap_or_default(),
            info.protocol_versions.join(", ")
        ))),
        Err(ActiveSyncError::Session(e)) => Err(session_failure(&e, "NotificationAccount/User")),
        Err(e) => Err(Outcome::fail(
            e.to_string(),
            "check that the Microsoft-Server-ActiveSync virtual directory exists and is enabled",
        )),
    }
}
