//! The thirteen checks themselves. Each takes the shared [`Context`] and does its own network
//! work from scratch, so all can run at once; messages name the host, the account and the
//! stage, and say what to do. No check may put a password into its outcome.

use std::sync::Arc;

use super::finding::{HttpPowerShell, SignedInTo};
use super::{Account, CheckId, Finding, Fix, Gap, Input, Options, Outcome};
use crate::engine::target;
use crate::exchange::autodiscover::{self, AutodiscoverError};
use crate::exchange::client::{Credentials, Session, SessionError};
use crate::exchange::ews::{Ews, Mail};
use crate::exchange::http::{self, ConnectOptions, Connection, Endpoint, HttpError};
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

    /// Whether Exchange is reached through the proxy (not with `Proxy/BypassForExchange`:
    /// then only check 14's cloud traffic takes it).
    pub(super) fn proxy_enabled(&self) -> bool {
        self.input.config.proxy.enabled && !self.input.config.proxy.bypass_for_exchange
    }

    pub(super) fn explicit_ews(&self) -> bool {
        self.input.config.exchange_web_service_url.is_some()
    }

    fn endpoint(&self) -> Result<&Endpoint, Outcome> {
        self.endpoint
            .as_ref()
            .ok_or_else(|| Outcome::fail(Finding::NoServer, Fix::SetServer))
    }

    fn connect(&self) -> Result<&ConnectOptions, Outcome> {
        self.connect
            .as_ref()
            .map_err(|e| Outcome::error(e, Fix::CaFileNotPem))
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
            Outcome::fail(Finding::NoServiceCredentials, Fix::SetServiceCredentials)
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
            .map_err(|e| ps_failure(&e, Account::Service))
    }
}

/// Turn a connection error into an outcome with a fix.
fn http_failure(e: &HttpError) -> Outcome {
    Outcome::error(e, Fix::for_http(e))
}

fn session_failure(e: &SessionError, account: Account) -> Outcome {
    match e {
        SessionError::Http(h) => http_failure(h),
        SessionError::Unauthorized { .. } => Outcome::error(e, Fix::AccountCredentials(account)),
        SessionError::SchemeNotOffered {
            url,
            scheme,
            offered,
        } => Outcome::fail(
            Finding::SchemeNotOffered {
                url: url.to_string(),
                scheme: scheme.to_string(),
                offered: offered.clone(),
            },
            if crate::exchange::client::scheme_fix(scheme, offered)
                == Fix::SchemeUseKerberos.to_string()
            {
                Fix::SchemeUseKerberos
            } else {
                Fix::SchemeOther
            },
        ),
        SessionError::NoSupportedScheme { .. } => Outcome::error(e, Fix::NoSupportedScheme),
        SessionError::HandshakeCut { .. } => Outcome::error(e, Fix::HandshakeCut),
        SessionError::Throttled { .. } => Outcome::error(e, Fix::Throttled),
        SessionError::Kerberos { url, error } => Outcome::fail(
            Finding::Error {
                text: format!("{url}: {error}"),
            },
            Fix::for_kerberos(error),
        ),
        SessionError::KerberosOnly {
            url,
            offered,
            kerberos,
        } => Outcome::fail(
            Finding::KerberosOnly {
                url: url.to_string(),
                offered: offered.clone(),
                kerberos: kerberos.to_string(),
            },
            Fix::MakeKerberosWork(Box::new(Fix::for_kerberos(kerberos))),
        ),
        SessionError::Auth(_) => Outcome::error(e, Fix::CheckAccount),
        SessionError::BasicOverPlainHttp { .. } => Outcome::error(e, Fix::BasicOverHttp),
        SessionError::EncryptionUnavailable { .. } | SessionError::Encryption { .. } => {
            Outcome::error(e, Fix::NeedsHttps)
        }
    }
}

fn exchange_failure(e: &ExchangeError, account: Account) -> Outcome {
    match e {
        ExchangeError::PowerShell(e) => ps_failure(e, account),
    }
}

fn ps_failure(e: &PsError, account: Account) -> Outcome {
    match e {
        PsError::Session(s) => session_failure(s, account),
        PsError::Fault { fault, .. } => Outcome::error(
            e,
            match fault.subcode.as_deref() {
                Some("AccessDenied") => Fix::RemotePowerShell,
                _ => Fix::ServerMessage,
            },
        ),
        PsError::Protocol { .. } => Outcome::error(e, Fix::PowerShellPath),
        _ => Outcome::error(e, Fix::RetryEventLog),
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
        CheckId::Intune => Ok(intune(
            &ctx.input.config,
            ctx.input.cloud_credential.clone(),
            ctx.input.proxy_password.as_ref(),
            ctx.opts.check_timeout,
        )
        .await),
    };
    r.unwrap_or_else(|o| o)
}

fn config(ctx: &Context) -> Result<Outcome, Outcome> {
    let cfg = &ctx.input.config;
    let mut gaps: Vec<Gap> = ctx
        .input
        .config_problems
        .iter()
        .map(|p| Gap::Field(p.to_string()))
        .collect();
    if ctx.input.service_password.is_none() {
        gaps.push(Gap::NoServicePassword);
    }
    if ctx.input.notification_password.is_none() {
        gaps.push(Gap::NoNotificationPassword);
    }
    if cfg.proxy.enabled && cfg.proxy.use_credentials && ctx.input.proxy_password.is_none() {
        gaps.push(Gap::NoProxyPassword);
    }
    if ctx.endpoint.is_none() && gaps.is_empty() {
        gaps.push(Gap::NoServerAddress);
    }
    if let Err(e) = &ctx.connect {
        gaps.push(Gap::Connection(e.to_string()));
    }
    if gaps.is_empty() {
        Ok(Outcome::pass(Finding::ConfigComplete {
            url: ctx.endpoint.as_ref().map(|e| e.url()).unwrap_or_default(),
        }))
    } else {
        Err(Outcome::fail(
            Finding::ConfigIncomplete { gaps },
            Fix::CompleteConfiguration,
        ))
    }
}

async fn dns(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?;
    if ep.host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(Outcome::pass(Finding::DnsIsAddress {
            host: ep.host.clone(),
        }));
    }
    match http::resolve_all(&ep.host, ep.port).await {
        Ok(addrs) => {
            let mut list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            list.dedup();
            Ok(Outcome::pass(Finding::DnsResolved {
                host: ep.host.clone(),
                addresses: list,
            }))
        }
        Err(e) if ctx.proxy_enabled() => Ok(Outcome::warn(
            Finding::DnsBehindProxy {
                error: e.to_string(),
            },
            Fix::NameBehindProxy,
        )),
        Err(e) => Err(http_failure(&e)),
    }
}

async fn proxy(ctx: &Context) -> Result<Outcome, Outcome> {
    if !ctx.proxy_enabled() {
        return Ok(Outcome::not_applicable(Finding::ProxyNotUsed));
    }
    let ep = ctx.endpoint()?;
    let connect = ctx.connect()?;
    let p = connect
        .proxy
        .as_ref()
        .map(|p| format!("{}:{}", p.host, p.port))
        .unwrap_or_default();
    // Plain HTTP goes to the proxy as requests, not through CONNECT.
    if let Some(r) = http::forward_probe(ep, connect).await {
        return match r {
            Ok(_) => Ok(Outcome::pass(Finding::ProxyAccepted { proxy: p })),
            Err(e) => Err(http_failure(&e)),
        };
    }
    match http::open_tcp(ep, connect).await {
        Ok(_) => Ok(Outcome::pass(Finding::ProxyConnected {
            proxy: p,
            target: ep.authority(),
        })),
        // The proxy works but could not reach the server: that is the TCP check's failure.
        Err(HttpError::ProxyRefused {
            status: 500 | 502 | 503 | 504,
            ..
        }) => Ok(Outcome::pass(Finding::ProxyAccepted { proxy: p })),
        Err(e) => Err(http_failure(&e)),
    }
}

async fn tcp(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?;
    let connect = ctx.connect()?;
    let t0 = std::time::Instant::now();
    if let Some(r) = http::forward_probe(ep, connect).await {
        return match r {
            Ok(status @ 502..=504) => Err(Outcome::fail(
                Finding::ProxyCouldNotConnect {
                    proxy: connect
                        .proxy
                        .as_ref()
                        .map(|p| format!("{}:{}", p.host, p.port))
                        .unwrap_or_default(),
                    target: ep.authority(),
                    status,
                },
                Fix::ProxyMayReach,
            )),
            Ok(_) => Ok(Outcome::pass(Finding::TcpConnected {
                peer: ep.authority(),
                through_proxy: true,
                ms: t0.elapsed().as_millis(),
            })),
            Err(e) => Err(http_failure(&e)),
        };
    }
    match http::open_tcp(ep, connect).await {
        Ok(s) => {
            let through_proxy = ctx.proxy_enabled();
            let peer = if through_proxy {
                ep.authority()
            } else {
                s.peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| ep.authority())
            };
            Ok(Outcome::pass(Finding::TcpConnected {
                peer,
                through_proxy,
                ms: t0.elapsed().as_millis(),
            }))
        }
        Err(HttpError::ProxyRefused {
            status,
            proxy,
            target,
            ..
        }) if matches!(status, 500 | 502 | 503 | 504) => Err(Outcome::fail(
            Finding::ProxyCouldNotConnect {
                proxy,
                target,
                status,
            },
            Fix::ProxyMayReach,
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
    let (ep, http) = if ep.https {
        (ep, None)
    } else {
        https = Endpoint::parse(&format!("https://{}/", ep.authority()))
            .map_err(|e| Outcome::error(&e, Fix::ServerAddress))?;
        (
            &https,
            Some(HttpPowerShell {
                url: ep.url(),
                https: https.authority(),
            }),
        )
    };
    match Connection::open(ep, connect).await {
        Ok(_) => Ok(Outcome::pass(Finding::TlsTrusted {
            http,
            certificate: http::peer_certificate(ep, connect)
                .await
                .map(|c| c.to_string()),
        })),
        Err(e) => {
            let certificate = if matches!(e, HttpError::Tls { .. }) {
                http::peer_certificate(ep, connect)
                    .await
                    .map(|c| c.to_string())
            } else {
                None
            };
            Err(Outcome::fail(
                Finding::TlsFailed {
                    http,
                    error: e.to_string(),
                    certificate,
                },
                Fix::for_http(&e),
            ))
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
        .map_err(|e| Outcome::error(&e, Fix::PowerShellPathInvalid))?;
    let resp = c.send(req).await.map_err(|e| http_failure(&e))?;
    let schemes = crate::exchange::client::offered_schemes(&resp);
    match resp.status {
        401 if !schemes.is_empty() => Ok(Outcome::pass(Finding::AsksForAuthentication {
            url: ep.url(),
            schemes,
        })),
        503 => Err(Outcome::fail(
            Finding::Http503 {
                server: ep.authority(),
            },
            Fix::Throttled503,
        )),
        404 => Err(Outcome::fail(
            Finding::Http404 {
                server: ep.authority(),
                path: ep.path.clone(),
            },
            Fix::NotExchangeCas,
        )),
        status => Err(Outcome::fail(
            Finding::NotPowerShell {
                url: ep.url(),
                status,
            },
            Fix::NotPowerShell,
        )),
    }
}

async fn service_account(ctx: &Context) -> Result<Outcome, Outcome> {
    ctx.service_signed_in().await
}

async fn service_sign_in(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?.clone();
    let creds = ctx
        .service()
        .ok_or_else(|| Outcome::fail(Finding::NoServiceCredentials, Fix::SetServiceCredentials))?;
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
        Ok(_) => Ok(signed_in(&creds.user, &s, SignedInTo::PowerShell)),
        Err(e) => Err(session_failure(&e, Account::Service)),
    }
}

/// "LAB\\svc signed in with Kerberos{what}" — and, when Kerberos was passed over, why — with
/// the mechanism as data for the wizard.
fn signed_in(user: &str, s: &Session, to: SignedInTo) -> Outcome {
    let mech = s
        .mechanism_used()
        .map(|m| m.to_string())
        .unwrap_or_else(|| "no authentication asked".into());
    let not_used = s.kerberos_unavailable().map(|k| k.to_string());
    let outcome = Outcome::pass(Finding::SignedIn {
        user: user.to_string(),
        mechanism: mech,
        to,
        kerberos_not_used: not_used.clone(),
    });
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
    Ok(Outcome::pass(Finding::RunspaceOpened {
        configuration: ctx
            .opts
            .resource_uri
            .rsplit('/')
            .next()
            .unwrap_or("Microsoft.Exchange")
            .to_string(),
    }))
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
    let check = result.map_err(|e| ps_failure(&e, Account::Service))?;
    if check.missing.is_empty() {
        return Ok(Outcome::pass(Finding::CmdletsAvailable {
            count: check.available.len(),
            user,
        }));
    }
    // Per missing role, the least privileged role group that has it.
    let mut groups: Vec<String> = check
        .missing
        .iter()
        .map(|e| match e.role.role_groups().first() {
            Some(g) => format!("{} (role \"{}\")", g.label(), e.role.label()),
            None => format!("role \"{}\"", e.role.label()),
        })
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let missing: Vec<(String, String)> = check
        .missing
        .iter()
        .map(|e| (e.name.to_string(), e.role.describe()))
        .collect();
    Err(Outcome::fail(
        Finding::CmdletsMissing {
            user: user.clone(),
            missing,
        },
        Fix::RoleGroups { user, groups },
    ))
}

async fn exchange_servers(ctx: &Context) -> Result<Outcome, Outcome> {
    let pool = ctx.open_pool().await?;

    let result = RemotePowerShell::new(pool.clone(), None)
        .get_exchange_servers()
        .await;
    let _ = pool.close().await;
    let servers = result.map_err(|e| exchange_failure(&e, Account::Service))?;
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
    let detail = Finding::Servers {
        count: cas.len(),
        version: version.to_string(),
        names,
    };
    if ctx.input.config.is_cas_failover_enabled && cas.len() < 2 {
        return Ok(Outcome::warn(detail, Fix::NoFailoverPeer));
    }
    Ok(Outcome::pass(detail))
}

/// The EWS URL (from the configuration or Autodiscover) and the outcome of finding it.
async fn autodiscover_check(ctx: &Context) -> Result<(Outcome, String), Outcome> {
    if let Some(url) = &ctx.input.config.exchange_web_service_url {
        return Ok((
            Outcome::pass(Finding::EwsUrlSet { url: url.clone() }),
            url.clone(),
        ));
    }
    let creds = ctx.notification().ok_or_else(|| {
        Outcome::fail(
            Finding::NoNotificationCredentials,
            Fix::SetNotificationCredentials,
        )
    })?;
    let mailbox = ctx
        .input
        .config
        .notification_account
        .mailbox
        .clone()
        .ok_or_else(|| Outcome::fail(Finding::NoMailbox, Fix::SetMailbox))?;
    match autodiscover::discover(
        &mailbox,
        ctx.cas_address().as_deref(),
        ctx.connect()?,
        &creds,
    )
    .await
    {
        Ok(d) => {
            let via = d.attempts.last().map(|a| a.step).unwrap_or("Autodiscover");
            Ok((
                Outcome::pass(Finding::Discovered {
                    email: d.email.clone(),
                    url: d.ews_url.clone(),
                    via: via.to_string(),
                }),
                d.ews_url,
            ))
        }
        Err(e @ AutodiscoverError::UnknownMailbox { .. }) => {
            Err(Outcome::error(&e, Fix::UnknownMailbox))
        }
        Err(e) => Err(Outcome::error(&e, Fix::PublishAutodiscover)),
    }
}

async fn ews(ctx: &Context) -> Result<Outcome, Outcome> {
    let (_, url) = autodiscover_check(ctx).await?;
    let ep = Endpoint::parse(&url).map_err(|e| Outcome::error(&e, Fix::CheckEwsUrl))?;
    let creds = ctx.notification().ok_or_else(|| {
        Outcome::fail(
            Finding::NoNotificationCredentials,
            Fix::SetNotificationCredentials,
        )
    })?;
    let mut client = Ews::new(
        Session::connect(ep.clone(), ctx.connect()?.clone(), &creds),
        &ep.path,
    );
    let fail = |e: crate::exchange::ews::EwsError| match e {
        crate::exchange::ews::EwsError::Session(s) => session_failure(&s, Account::Notification),
        other => Outcome::error(&other, Fix::MailboxOwner),
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
            SignedInTo::EwsTestMail { to },
        ));
    }
    Ok(signed_in(
        &creds.user,
        client.session(),
        SignedInTo::EwsMailbox,
    ))
}

async fn activesync_check(ctx: &Context) -> Result<Outcome, Outcome> {
    let ep = ctx.endpoint()?.clone();
    let creds = ctx
        .notification()
        .or_else(|| ctx.service())
        .ok_or_else(|| Outcome::fail(Finding::NoCredentials, Fix::StorePasswords))?;
    // ActiveSync is served over HTTPS even when PowerShell is reached over http://.
    let ep = Endpoint::parse(&format!(
        "https://{}/Microsoft-Server-ActiveSync",
        ep.authority()
    ))
    .map_err(|e| Outcome::error(&e, Fix::ServerAddress))?;
    let mut s = Session::connect(ep, ctx.connect()?.clone(), &creds);
    match activesync::options(&mut s).await {
        Ok(info) => Ok(Outcome::pass(Finding::ActiveSync {
            version: info.server_version.unwrap_or_default(),
            protocols: info.protocol_versions,
        })),
        Err(ActiveSyncError::Session(e)) => Err(session_failure(&e, Account::Notification)),
        Err(e) => Err(Outcome::error(&e, Fix::ActiveSyncDirectory)),
    }
}

/// Check 14: token, permission, first page of managed devices.
pub(super) async fn intune(
    cfg: &crate::config::ConnectorConfig,
    credential: Option<crate::cloud::AppCredential>,
    proxy_password: Option<&crate::secrets::Secret>,
    timeout: std::time::Duration,
) -> Outcome {
    use super::CloudFix;
    use crate::cloud::{GraphError, TokenError};
    let c = &cfg.cloud;
    let (Some(tenant), Some(client_id)) = (&c.tenant_id, &c.application_id) else {
        return Outcome::not_applicable(Finding::CloudNotConfigured);
    };
    let Some(credential) = credential else {
        return Outcome::fail(
            Finding::Error {
                text: format!(
                    "no {} is stored for the cloud app",
                    match c.credential {
                        crate::config::model::CloudCredential::Certificate => "certificate",
                        crate::config::model::CloudCredential::Secret => "client secret",
                    }
                ),
            },
            Fix::Cloud(CloudFix::Credential),
        );
    };
    let mut opts = match crate::cloud::connect_options(cfg, proxy_password) {
        Ok(o) => o,
        Err(e) => return Outcome::error(&e, Fix::CaFileNotPem),
    };
    opts.connect_timeout = timeout;
    opts.request_timeout = timeout;
    let mut g = crate::cloud::GraphClient {
        http: crate::cloud::http::CloudHttp::new(opts),
        tokens: crate::cloud::token::TokenCache::default(),
        identity: crate::cloud::AppIdentity {
            authority: c.authority.clone(),
            tenant: tenant.clone(),
            client_id: client_id.clone(),
            credential,
        },
        graph_url: c.graph_url.clone(),
    };
    // Validation waits for no throttling: the first Retry-After fails the check.
    let read = g
        .managed_devices(
            crate::cloud::graph::PAGE_SIZE,
            true,
            &mut |_, _| {},
            &mut |_| {},
        )
        .await;
    match read {
        Ok(r) => {
            let with_eas = r
                .devices
                .iter()
                .filter(|d| d.eas_device_id.as_deref().is_some_and(|e| !e.is_empty()))
                .count();
            Outcome::pass(Finding::IntuneRead {
                devices: r.devices.len(),
                with_eas,
                more_pages: r.devices.len() >= crate::cloud::graph::PAGE_SIZE as usize,
                graph: c.graph_url.clone(),
            })
        }
        Err(e) => {
            let fix = match &e {
                GraphError::Token(t) => match t.as_ref() {
                    TokenError::UnknownTenant { .. } | TokenError::UnknownApp { .. } => {
                        CloudFix::Identity
                    }
                    TokenError::WrongSecret | TokenError::SecretExpired | TokenError::Sign(_) => {
                        CloudFix::Credential
                    }
                    TokenError::CertificateNotRegistered { .. } => CloudFix::CertificateNotUploaded,
                    TokenError::ClockSkew { .. } => CloudFix::Clock,
                    TokenError::ConsentMissing { .. } => CloudFix::Consent,
                    TokenError::BadScope { .. } | TokenError::BadResponse { .. } => {
                        CloudFix::Addresses
                    }
                    TokenError::Http { .. } => CloudFix::Proxy,
                    TokenError::Refused { .. } => CloudFix::Identity,
                    TokenError::TemporarilyUnavailable { .. } => CloudFix::Retry,
                },
                GraphError::PermissionMissing { .. } => CloudFix::Consent,
                GraphError::Unauthorized { .. } | GraphError::ForeignLink(_) => CloudFix::Addresses,
                GraphError::Throttled { .. } => CloudFix::Retry,
                GraphError::Http { .. } => CloudFix::Proxy,
                GraphError::Status { .. } | GraphError::BadPage { .. } => CloudFix::Retry,
            };
            Outcome::error(&e, Fix::Cloud(fix))
        }
    }
}
