//! The setup wizard, `eas-connector-setup`: the product's front door (iced).
//!
//! Eleven pages in a fixed order ([`Step`]), each a module under `pages` with its own
//! `Message` in and `Event` out; this module owns the shared [`form::Form`], the order of
//! pages, keyboard handling and every side effect (as iced `Task`s over [`effects`], so the
//! UI thread never blocks). Connect and Apply go through `setup::validate_plan` and
//! `setup::apply`, the code path of `eas-connector configure --answers`. All iced code of the
//! project lives under this module and nowhere else. It must never show, log or copy a
//! password: password boxes are masked and the report holds no secrets.

pub mod effects;
pub mod focus;
pub mod form;
pub mod i18n;
pub mod keys;
pub mod pages;
pub mod ui;
pub mod words;

use std::sync::Arc;

use iced::widget::{button, column, container, opaque, row, scrollable, stack, text, Space};
use iced::{Element, Length, Task, Theme};

use crate::config::{ConfigLocation, ExchangeServerType};
use crate::secrets::Secret;
use crate::service::manager::ServiceManager;
use effects::{Existing, LabHandle};
use form::Form;
use i18n::Lang;
use pages::welcome::{LabStatus, Mode};
use pages::{
    apply, compliance, connect, done, notification, options, proxy, server, server_type,
    service_account, summary, welcome,
};

/// The id of the scrollable that holds the current page.
const PAGE_SCROLL: &str = "page";

/// The ids of the step list's entries (for the focus and tests).
pub const STEP_IDS: [&str; 12] = [
    "step-1", "step-2", "step-3", "step-4", "step-5", "step-6", "step-7", "step-8", "step-9",
    "step-10", "step-11", "step-12",
];

/// The widest the page's content gets (fields, notes), whatever the window's width.
pub const MAX_PAGE_WIDTH: f32 = 820.0;

/// The organization the lab demonstration writes to (never the admin's real one).
pub const LAB_ORG: &str = "lab";

/// How to start the wizard.
#[derive(Clone)]
pub struct Options {
    pub lang: Lang,
    /// Where the organization's configuration is (from `--config-dir` and `--org`).
    pub location: ConfigLocation,
    /// The platform's service manager; `None` offers "write configuration only".
    pub manager: Option<Arc<dyn ServiceManager>>,
    /// Force a light or dark theme; `None` follows the system.
    pub dark: Option<bool>,
    /// Why there is no service manager, when `manager` is `None`.
    pub no_service: Option<crate::service::manager::ServiceError>,
}

/// The pages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Welcome,
    ServerType,
    Server,
    Proxy,
    ServiceAccount,
    Notification,
    Options,
    Compliance,
    Connect,
    Summary,
    Apply,
    Done,
}

impl Step {
    pub const ALL: [Step; 12] = [
        Step::Welcome,
        Step::ServerType,
        Step::Server,
        Step::Proxy,
        Step::ServiceAccount,
        Step::Notification,
        Step::Options,
        Step::Compliance,
        Step::Connect,
        Step::Summary,
        Step::Apply,
        Step::Done,
    ];

    /// Position, from 1.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    fn next(self) -> Step {
        Self::ALL.get(self.number()).copied().unwrap_or(self)
    }

    fn previous(self) -> Step {
        Self::ALL
            .get(self.number().saturating_sub(2))
            .copied()
            .unwrap_or(self)
    }

    /// The page's name in the step list.
    pub fn title(self, l: Lang) -> &'static str {
        l.t(match self {
            Step::Welcome => "Welcome",
            Step::ServerType => "Exchange server type",
            Step::Server => "Server",
            Step::Proxy => "Proxy",
            Step::ServiceAccount => "Service account",
            Step::Notification => "Notification account",
            Step::Options => "Options",
            Step::Compliance => "Compliance source",
            Step::Connect => "Connect",
            Step::Summary => "Summary",
            Step::Apply => "Apply",
            Step::Done => "Done",
        })
    }

    /// One line under the title in the header.
    pub fn subtitle(self, l: Lang) -> &'static str {
        l.t(match self {
            Step::Welcome => {
                "Set up the connector between Exchange ActiveSync and your device policy."
            }
            Step::ServerType => "Choose how the connector reaches your Exchange organization.",
            Step::Server => "Which server the connector talks to.",
            Step::Proxy => "How this computer reaches Exchange.",
            Step::ServiceAccount => "The account that manages mobile devices in Exchange.",
            Step::Notification => "The mailbox that tells users what to do.",
            Step::Options => "Failover, performance and sync schedule.",
            Step::Compliance => "Whether Microsoft Intune's compliance state counts too.",
            Step::Connect => "Checking that everything works, before anything is written.",
            Step::Summary => "What will be written, and where.",
            Step::Apply => "Writing the configuration and passwords, and registering the service.",
            Step::Done => "The connector is set up.",
        })
    }
}

/// Everything the wizard does.
#[derive(Debug, Clone)]
pub enum Message {
    /// Input to the Welcome page.
    Welcome(welcome::Message),
    /// Input to the server type page.
    ServerType(server_type::Message),
    /// Input to the server page.
    Server(server::Message),
    /// Input to the proxy page.
    Proxy(proxy::Message),
    /// Input to the service account page.
    ServiceAccount(service_account::Message),
    /// Input to the notification account page.
    Notification(notification::Message),
    /// Input to the options page.
    Options(options::Message),
    /// Input to the Compliance source page.
    Compliance(compliance::Message),
    /// Check 14 alone finished (the Compliance source page's Test).
    IntuneTested(Result<crate::probe::Outcome, effects::TestError>),
    /// The file dialog returned the cloud app's certificate (or was cancelled, or could not
    /// open).
    CertificatePicked(effects::Picked),
    /// Input to the Connect page (including check results).
    Connect(connect::Message),
    /// Input to the Summary page.
    Summary(summary::Message),
    /// Input to the Apply page (including step progress).
    Apply(apply::Message),
    /// Input to the Done page.
    Done(done::Message),
    /// The search for an existing connector finished.
    Detected(Existing),
    /// The existing connector's service status was read.
    HomeRead(Box<effects::Home>),
    /// The service answered a "Sync now".
    SyncAsked(
        crate::engine::SyncKind,
        Result<(), effects::SyncRequestError>,
    ),
    /// The password store setup will use was found out (for the Summary).
    StoreChosen(Result<crate::secrets::StoreKind, Arc<crate::secrets::SecretError>>),
    /// What Remove would delete was found out (then the admin is asked).
    RemovalPlanned(Result<crate::setup::remove::Removal, crate::setup::remove::RemoveError>),
    /// The answer to "Remove the connector?": `true` removes it.
    ConfirmRemove(bool),
    /// Remove finished.
    Removed(Result<crate::setup::remove::Removed, crate::setup::remove::RemoveError>),
    /// The lab started (or could not).
    LabStarted(Result<LabHandle, effects::LabStartError>),
    /// The file dialog returned a CA file (or was cancelled, or could not open).
    CaFilePicked(effects::Picked),
    /// Go to the previous page (Back button, Alt+B).
    Back,
    /// Go to the next page (Next button, Enter, Alt+N).
    Next,
    /// Jump to a page from the step list.
    GoTo(Step),
    /// Cancel (Cancel button, Esc): asks for confirmation.
    Cancel,
    /// The answer to "Cancel setup?": `true` quits.
    ConfirmCancel(bool),
    /// Enter was pressed.
    Enter,
    /// Esc was pressed.
    Escape,
    /// Alt+letter was pressed.
    Shortcut(char),
}

/// The wizard's state.
pub struct Wizard {
    pub lang: Lang,
    /// Where this run writes (switches to the lab's organization in the demonstration).
    pub loc: ConfigLocation,
    requested: ConfigLocation,
    pub manager: Option<Arc<dyn ServiceManager>>,
    no_service: Option<crate::service::manager::ServiceError>,
    pub step: Step,
    pub welcome: welcome::State,
    pub form: Form,
    pub compliance: compliance::State,
    pub connect: connect::State,
    pub apply: apply::State,
    pub register_service: bool,
    pub confirm_cancel: bool,
    pub lab: Option<LabHandle>,
    /// A short note for the Done page (e.g. a folder that could not be opened).
    pub note: Option<String>,
    connect_task: Option<iced::task::Handle>,
    /// Which widget the keyboard layer focuses next ([`keys`]).
    pub focus: keys::FocusRequest,
    /// The password store setup will use, found out on entering the Summary.
    pub store: Option<Result<crate::secrets::StoreKind, Arc<crate::secrets::SecretError>>>,
    /// Remove asks first: what it would delete, while the question is open.
    pub confirm_remove: Option<crate::setup::remove::Removal>,
}

impl Wizard {
    /// The wizard before anything happened, and the task that looks for an existing connector.
    pub fn new(opts: Options) -> (Self, Task<Message>) {
        let w = Wizard {
            lang: opts.lang,
            loc: opts.location.clone(),
            requested: opts.location.clone(),
            register_service: opts.manager.is_some(),
            manager: opts.manager,
            no_service: opts.no_service,
            step: Step::Welcome,
            welcome: welcome::State {
                org: opts.location.org().to_string(),
                existing: Existing::Checking,
                mode: None,
                lab: LabStatus::Off,
                home: None,
                sync_note: None,
                removed: None,
            },
            form: Form::default(),
            compliance: compliance::State::default(),
            connect: connect::State::default(),
            apply: apply::State::default(),
            confirm_cancel: false,
            lab: None,
            note: None,
            connect_task: None,
            focus: keys::FocusRequest::default(),
            store: None,
            confirm_remove: None,
        };
        let task = Task::perform(
            effects::detect(opts.location, w.register_service),
            Message::Detected,
        );
        (w, task)
    }

    pub fn title(&self) -> String {
        format!(
            "{} — {}",
            self.lang.t("EAS Connector Setup"),
            self.step.title(self.lang)
        )
    }

    fn mode(&self) -> Mode {
        self.welcome.mode.unwrap_or(Mode::New)
    }

    /// Whether Next is allowed on the current page.
    pub fn can_continue(&self) -> bool {
        self.page_ok(self.step)
    }

    fn page_ok(&self, step: Step) -> bool {
        match step {
            Step::Welcome => self.welcome.can_continue(),
            Step::ServerType => true,
            Step::Server => self.form.server_ok(),
            Step::Proxy => self.form.proxy_ok(),
            Step::ServiceAccount => self.form.service_ok(),
            Step::Notification => self.form.notification_ok(),
            Step::Options => self.form.options_ok(),
            Step::Compliance => self.form.compliance_ok(),
            Step::Connect => !self.connect.running && self.connect.passed(),
            Step::Summary => true,
            Step::Apply => self.apply.succeeded(),
            Step::Done => true,
        }
    }

    /// Why Next is refused on the current page, in the admin's language, and the field to fix
    /// first (which then gets the focus). `None` when Next is allowed.
    pub fn why_not(&self) -> Option<(Option<&'static str>, String)> {
        use crate::config::fields as fl;
        use crate::secrets::SecretKind;
        if self.can_continue() {
            return None;
        }
        let l = self.lang;
        let f = &self.form;
        // (widget id, label, the field, or the password it stands for)
        enum What {
            Field(&'static crate::config::Field),
            Password(SecretKind),
        }
        let mut list: Vec<(&'static str, &'static str, What)> = Vec::new();
        match self.step {
            Step::Welcome => {
                return Some((
                    None,
                    l.t("Choose what to do: one of the choices above.").into(),
                ))
            }
            Step::Server => {
                list.push(match f.server_type {
                    ExchangeServerType::OnPremises => (
                        "cas",
                        "Client Access Server",
                        What::Field(&fl::CLIENT_ACCESS_SERVER),
                    ),
                    ExchangeServerType::Hosted => (
                        "hosted",
                        "Hosted server address",
                        What::Field(&fl::HOSTED_SERVER_ADDRESS),
                    ),
                    ExchangeServerType::Online => (
                        "cloud-tenant",
                        "Directory (tenant) ID",
                        What::Field(&fl::CLOUD_TENANT_ID),
                    ),
                });
                list.push(("ews-url", "EWS URL (optional)", What::Field(&fl::EWS_URL)));
                list.push((
                    "ca-file",
                    "Trusted CA file (optional)",
                    What::Field(&fl::TRUSTED_CA_FILE),
                ));
            }
            Step::Proxy => {
                list.push(("proxy-host", "Proxy host", What::Field(&fl::PROXY_HOST)));
                list.push(("proxy-port", "Port", What::Field(&fl::PROXY_PORT)));
                if f.proxy_use_credentials {
                    list.push(("proxy-user", "Proxy user", What::Field(&fl::PROXY_USER)));
                    list.push((
                        "proxy-password",
                        "Proxy password",
                        What::Password(SecretKind::Proxy),
                    ));
                }
            }
            Step::ServiceAccount => {
                list.push((
                    "service-user",
                    "Account",
                    What::Field(&fl::SERVICE_ACCOUNT_USER),
                ));
                list.push((
                    "service-password",
                    "Password",
                    What::Password(SecretKind::ServiceAccount),
                ));
                list.push((
                    "kerberos-realm",
                    "Kerberos realm (optional)",
                    What::Field(&fl::KERBEROS_REALM),
                ));
                list.push((
                    "kerberos-kdc",
                    "Domain controllers / KDC (optional)",
                    What::Field(&fl::KERBEROS_KDC_ADDRESS),
                ));
                list.push((
                    "kerberos-spn",
                    "Service principal name (optional)",
                    What::Field(&fl::KERBEROS_SPN),
                ));
            }
            Step::Notification => {
                list.push((
                    "notify-user",
                    "Account",
                    What::Field(&fl::NOTIFICATION_ACCOUNT_USER),
                ));
                list.push((
                    "notify-mailbox",
                    "Mailbox (sender address)",
                    What::Field(&fl::NOTIFICATION_MAILBOX),
                ));
                list.push((
                    "notify-password",
                    "Password",
                    What::Password(SecretKind::NotificationAccount),
                ));
            }
            Step::Options => {
                list.push((
                    "max-runspaces",
                    "Parallel runspaces",
                    What::Field(&fl::MAX_PARALLEL_RUNSPACES),
                ));
                list.push((
                    "quick-sync",
                    "Quick sync every (minutes)",
                    What::Field(&fl::QUICK_SYNC_INTERVAL),
                ));
                list.push((
                    "full-sync",
                    "Full sync daily at",
                    What::Field(&fl::FULL_SYNC_TIME),
                ));
            }
            Step::Compliance => {
                list.push((
                    "cloud-tenant",
                    "Directory (tenant) ID",
                    What::Field(&fl::CLOUD_TENANT_ID),
                ));
                list.push((
                    "cloud-app",
                    "Application (client) ID",
                    What::Field(&fl::CLOUD_APPLICATION_ID),
                ));
                let ids_ok = [&fl::CLOUD_TENANT_ID, &fl::CLOUD_APPLICATION_ID]
                    .iter()
                    .all(|x| !f.missing(x) && f.problem(x).is_none());
                if ids_ok && !f.cloud_credential_ok() {
                    return Some(match (f.cloud_credential, &f.cloud_cert) {
                        (crate::config::model::CloudCredential::Secret, _) => (
                            Some("cloud-secret"),
                            l.f(
                                "Fill in “{}” to go on.",
                                &[l.t("Client secret (its Value)")],
                            ),
                        ),
                        (_, Some(Err(e))) => (
                            Some("cloud-cert"),
                            l.f(
                                "Correct “{}”: {}",
                                &[l.t("Certificate file"), &words::import_error(l, e)],
                            ),
                        ),
                        _ => (
                            Some("cloud-cert"),
                            l.f("Fill in “{}” to go on.", &[l.t("Certificate file")]),
                        ),
                    });
                }
            }
            Step::Connect if self.connect.running => {
                return Some((None, l.t("Wait for the checks to finish.").into()))
            }
            Step::Connect => {
                return Some((
                    None,
                    l.t("Some checks failed: follow the fix under each, then Retry.")
                        .into(),
                ))
            }
            Step::Apply => return Some((None, l.t("Wait for the setup to finish.").into())),
            _ => {}
        }
        for (id, label, what) in list {
            let problem = match what {
                What::Field(field) if f.required(field) && f.missing(field) => {
                    Some(l.f("Fill in “{}” to go on.", &[l.t(label)]))
                }
                What::Field(field) => f
                    .problem(field)
                    .map(|p| l.f("Correct “{}”: {}", &[l.t(label), &p.text(l)])),
                What::Password(kind) => {
                    (!f.has_password(kind)).then(|| l.f("Fill in “{}” to go on.", &[l.t(label)]))
                }
            };
            if let Some(p) = problem {
                return Some((Some(id), p));
            }
        }
        None
    }

    /// Whether Back is allowed on the current page.
    pub fn can_go_back(&self) -> bool {
        match self.step {
            Step::Welcome | Step::Done => false,
            Step::Apply => !self.apply.running && !self.apply.succeeded(),
            _ => true,
        }
    }

    /// Whether the step list may jump to `target`: every page before it must be complete.
    pub fn can_jump(&self, target: Step) -> bool {
        target != self.step
            && target < Step::Apply
            && !self.apply.running
            && self.step < Step::Apply
            && Step::ALL
                .iter()
                .take_while(|s| **s < target)
                .all(|s| self.page_ok(*s))
    }

    fn plan(&self) -> crate::setup::Plan {
        let replace = matches!(self.mode(), Mode::Replace | Mode::Lab);
        self.form
            .plan(replace, self.register_service && self.manager.is_some())
    }

    /// Go to `step`, starting what that page runs on arrival.
    fn enter(&mut self, step: Step) -> Task<Message> {
        let mut tasks = vec![];
        if self.step == Step::Connect && step != Step::Connect {
            tasks.push(self.stop_checks());
        }
        self.step = step;
        self.form.show_required = false;
        match step {
            Step::Connect if !self.connect.passed() => tasks.push(self.run_checks()),
            Step::Apply => tasks.push(self.run_apply()),
            Step::Summary => {
                self.store = None;
                tasks.push(Task::perform(
                    effects::store_choice(self.loc.clone(), self.register_service),
                    Message::StoreChosen,
                ));
            }
            _ => {}
        }
        self.focus.to(self.first_field());
        // Each page starts at its top, not where the previous one was scrolled to.
        tasks.push(iced::widget::operation::snap_to(
            PAGE_SCROLL,
            iced::widget::operation::RelativeOffset::START,
        ));
        Task::batch(tasks)
    }

    fn run_checks(&mut self) -> Task<Message> {
        let _ = self.stop_checks();
        self.connect.start();
        let (task, handle) = Task::run(
            effects::validate(self.loc.clone(), self.plan()),
            Message::Connect,
        )
        .abortable();
        self.connect_task = Some(handle);
        task
    }

    fn stop_checks(&mut self) -> Task<Message> {
        if let Some(h) = self.connect_task.take() {
            h.abort();
        }
        if self.connect.running {
            self.connect.running = false;
            self.connect.cancelled = true;
        }
        Task::none()
    }

    fn run_apply(&mut self) -> Task<Message> {
        self.apply.start();
        let mut plan = self.plan();
        // Connect just ran `validate_plan` on exactly these values (any edit clears it).
        plan.skip_validation = self.connect.passed();
        if let Some(r) = &self.connect.report {
            self.apply.lines.push(apply::Line {
                step: crate::setup::Step::Validate,
                state: apply::LineState::Done,
                detail: apply::LineDetail::PassedOnConnect { ms: r.total_ms },
            });
        }
        Task::run(
            effects::apply(self.loc.clone(), plan, self.manager.clone()),
            Message::Apply,
        )
    }

    /// Apply a page's change to the form, then what every form change needs.
    fn edit(&mut self, change: impl FnOnce(&mut Form)) -> Task<Message> {
        let before = self.form.clone();
        change(&mut self.form);
        self.form_changed();
        self.focus_appeared(&before);
        Task::none()
    }

    /// "Go to <page> › <field>" from a fix: the page, its section opened, the field focused.
    fn go_to(&mut self, p: words::Place) -> Task<Message> {
        match p.id {
            "ews-url" | "ca-file" => self.form.show_advanced = true,
            "kerberos-realm" | "kerberos-kdc" | "kerberos-spn" => self.form.show_kerberos = true,
            "cloud-tenant" | "cloud-app" | "cred-certificate" => self.form.intune = true,
            _ => {}
        }
        let task = self.enter(p.step);
        self.focus.to(Some(p.id));
        task
    }

    /// The first text box of the current page, which gets the focus when the page opens.
    pub fn first_field(&self) -> Option<&'static str> {
        let f = &self.form;
        match self.step {
            Step::Server => Some(match f.server_type {
                ExchangeServerType::OnPremises => "cas",
                ExchangeServerType::Hosted => "hosted",
                ExchangeServerType::Online => "cloud-tenant",
            }),
            Step::Proxy => f.proxy_enabled.then_some("proxy-host"),
            Step::ServiceAccount => Some("service-user"),
            Step::Notification => Some("notify-user"),
            Step::Options => Some(if f.parallel {
                "max-runspaces"
            } else {
                "quick-sync"
            }),
            Step::Compliance => f.intune.then_some("cloud-tenant"),
            _ => None,
        }
    }

    /// When a check box made fields appear, the first of them gets the focus.
    fn focus_appeared(&mut self, before: &Form) {
        let f = &self.form;
        let appeared = if f.proxy_enabled && !before.proxy_enabled {
            Some("proxy-host")
        } else if f.proxy_use_credentials && !before.proxy_use_credentials {
            Some("proxy-user")
        } else if f.show_advanced && !before.show_advanced {
            Some("ews-url")
        } else if f.kerberos_open() && !before.kerberos_open() {
            Some("kerberos-realm")
        } else if f.parallel && !before.parallel {
            Some("max-runspaces")
        } else if f.intune && !before.intune {
            Some("cloud-tenant")
        } else {
            None
        };
        if appeared.is_some() {
            self.focus.to(appeared);
        }
    }

    fn form_changed(&mut self) {
        if !self.connect.running {
            self.connect = connect::State::default();
        }
    }

    fn prefill_from_lab(&mut self, lab: &LabHandle) {
        let info = lab.0.info();
        let kerberos = info.kerberos.as_ref();
        self.form = Form {
            server_type: ExchangeServerType::OnPremises,
            // As the lab's answers file has it: Microsoft's default http://…/PowerShell/ when
            // the lab serves it, else host:port over HTTPS.
            cas: info
                .servers
                .first()
                .map(|s| match &s.http_url {
                    Some(url) => format!("{url}/PowerShell/"),
                    None => s.address.clone(),
                })
                .unwrap_or_default(),
            show_advanced: true,
            show_kerberos: kerberos.is_some(),
            kerberos_realm: kerberos.map(|k| k.realm.clone()).unwrap_or_default(),
            kerberos_kdc: kerberos.and_then(|k| k.kdc.clone()).unwrap_or_default(),
            ca_file: info.ca_file.display().to_string(),
            service_user: info.accounts.service.user.clone(),
            service_password: Secret::new(info.accounts.service.password.clone()),
            notify_user: info.accounts.notification.user.clone(),
            notify_mailbox: info
                .accounts
                .notification
                .mailbox
                .clone()
                .unwrap_or_default(),
            notify_password: Secret::new(info.accounts.notification.password.clone()),
            ..Form::default()
        };
        // The lab's cloud: Intune through its app, signing in with the PFX it issued.
        if let Some(c) = &info.cloud {
            self.form.intune = true;
            self.form.cloud_tenant = c.tenant_id.clone();
            self.form.cloud_app = c.application_id.clone();
            self.form.cloud_authority = c.authority.clone();
            self.form.cloud_graph_url = c.graph_url.clone();
            self.form.cloud_credential = crate::config::model::CloudCredential::Certificate;
            self.form.cloud_cert_file = c.pfx_file.display().to_string();
            self.form.cloud_cert_password = Secret::new(c.pfx_password.clone());
            self.form.read_cloud_certificate();
        }
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        if self.confirm_remove.is_some() {
            match message {
                // Enter and Esc keep the connector: removing takes a deliberate press.
                Message::Enter | Message::Escape | Message::Cancel => {
                    return self.update(Message::ConfirmRemove(false))
                }
                Message::ConfirmRemove(_) => {}
                _ => return Task::none(),
            }
        }
        if self.confirm_cancel {
            match message {
                Message::ConfirmCancel(_) | Message::Enter | Message::Escape => {}
                _ => return Task::none(),
            }
        }
        match message {
            Message::Welcome(m) => match self.welcome.update(m) {
                Some(welcome::Event::Chosen(mode)) => {
                    self.loc = self.requested.clone();
                    self.welcome.org = self.loc.org().to_string();
                    self.form = match (&self.welcome.existing, mode) {
                        (Existing::Found { config, stored }, Mode::Reconfigure) => {
                            Form::from_config(config, *stored)
                        }
                        _ => Form::default(),
                    };
                    self.register_service = self.manager.is_some();
                    self.form_changed();
                    Task::none()
                }
                Some(welcome::Event::SyncNow(kind)) => {
                    Task::perform(effects::sync_now(self.requested.clone(), kind), move |r| {
                        Message::SyncAsked(kind, r)
                    })
                }
                Some(welcome::Event::Refresh) => {
                    Task::perform(effects::read_home(self.requested.clone()), |h| {
                        Message::HomeRead(Box::new(h))
                    })
                }
                Some(welcome::Event::PlanRemoval) => Task::perform(
                    effects::removal_plan(self.requested.clone(), self.manager.clone()),
                    Message::RemovalPlanned,
                ),
                Some(welcome::Event::StartLab) => {
                    Task::perform(effects::start_lab(), Message::LabStarted)
                }
                None => Task::none(),
            },
            Message::LabStarted(Ok(lab)) => {
                let info = lab.0.info();
                self.welcome.lab = LabStatus::Running(self.lang.f(
                    "Lab Exchange {} is running on {} ({} servers, {} devices). Every page is filled in.",
                    &[
                        &info.exchange_version,
                        &info.servers.first().map(|s| s.address.clone()).unwrap_or_default(),
                        &info.servers.len().to_string(),
                        &info.devices.to_string(),
                    ],
                ));
                if let Ok(loc) = ConfigLocation::new(Some(self.requested.root()), LAB_ORG) {
                    self.loc = loc;
                }
                self.welcome.org = self.loc.org().to_string();
                self.welcome.mode = Some(Mode::Lab);
                self.register_service = false;
                self.prefill_from_lab(&lab);
                self.lab = Some(lab);
                self.form_changed();
                if self.step == Step::Welcome {
                    self.enter(Step::ServerType)
                } else {
                    Task::none()
                }
            }
            Message::LabStarted(Err(e)) => {
                self.welcome.lab = LabStatus::Failed(e);
                Task::none()
            }
            Message::RemovalPlanned(Ok(plan)) => {
                self.welcome.removed = None;
                self.confirm_remove = Some(plan);
                self.focus.to(Some("keep-connector"));
                Task::none()
            }
            Message::RemovalPlanned(Err(e)) => {
                self.welcome.removed = Some(Err(e));
                Task::none()
            }
            Message::ConfirmRemove(yes) => {
                self.confirm_remove = None;
                if yes {
                    Task::perform(
                        effects::remove(self.requested.clone(), self.manager.clone()),
                        Message::Removed,
                    )
                } else {
                    Task::none()
                }
            }
            Message::Removed(r) => {
                let ok = r.is_ok();
                self.welcome.removed = Some(r);
                if ok {
                    // Nothing is configured now: the page offers Set up new.
                    self.welcome.home = None;
                    self.welcome.mode = None;
                    self.welcome.existing = Existing::Checking;
                    return Task::perform(
                        effects::detect(self.requested.clone(), self.register_service),
                        Message::Detected,
                    );
                }
                Task::none()
            }
            Message::StoreChosen(choice) => {
                self.store = Some(choice);
                Task::none()
            }
            Message::HomeRead(home) => {
                self.welcome.home = Some(*home);
                Task::none()
            }
            Message::SyncAsked(kind, r) => {
                self.welcome.sync_note = Some(r.map(|()| kind));
                Task::perform(effects::read_home(self.requested.clone()), |h| {
                    Message::HomeRead(Box::new(h))
                })
            }
            Message::Detected(existing) => {
                // A single choice is preselected, so Enter goes on.
                let only = match &existing {
                    Existing::None => Some(Mode::New),
                    _ => None,
                };
                let found = matches!(existing, Existing::Found { .. });
                self.welcome.existing = existing;
                if found {
                    // The status home: the service's state first.
                    return Task::perform(effects::read_home(self.requested.clone()), |h| {
                        Message::HomeRead(Box::new(h))
                    });
                }
                match only {
                    Some(mode) if self.welcome.mode.is_none() => {
                        self.update(Message::Welcome(welcome::Message::Choose(mode)))
                    }
                    _ => Task::none(),
                }
            }
            Message::ServerType(m) => self.edit(|f| {
                server_type::update(f, m);
            }),
            Message::Server(m) => {
                let before = self.form.clone();
                let ev = server::update(&mut self.form, m);
                self.form_changed();
                self.focus_appeared(&before);
                match ev {
                    Some(server::Event::BrowseCaFile) => {
                        Task::perform(effects::pick_ca_file(), Message::CaFilePicked)
                    }
                    None => Task::none(),
                }
            }
            Message::CaFilePicked(effects::Picked::File(p)) => {
                self.form.ca_file = p.display().to_string();
                self.form.no_file_dialog = false;
                self.form_changed();
                Task::none()
            }
            Message::CaFilePicked(effects::Picked::Cancelled) => Task::none(),
            Message::CaFilePicked(effects::Picked::Unavailable) => {
                // Say so at the field, and put the cursor there to type the path.
                self.form.no_file_dialog = true;
                self.focus.to(Some("ca-file"));
                Task::none()
            }
            Message::Proxy(m) => self.edit(|f| {
                proxy::update(f, m);
            }),
            Message::ServiceAccount(m) => self.edit(|f| {
                service_account::update(f, m);
            }),
            Message::Notification(m) => self.edit(|f| {
                notification::update(f, m);
            }),
            Message::Options(m) => self.edit(|f| {
                options::update(f, m);
            }),
            Message::Compliance(m) => {
                let before = self.form.clone();
                let ev = compliance::update(&mut self.form, m);
                self.form_changed();
                self.focus_appeared(&before);
                if ev.is_none() {
                    // An edit: the last test no longer speaks for these values.
                    self.compliance.result = None;
                }
                match ev {
                    Some(compliance::Event::BrowseCertificate) => {
                        Task::perform(effects::pick_certificate(), Message::CertificatePicked)
                    }
                    Some(compliance::Event::Test) => {
                        self.compliance.testing = true;
                        self.compliance.result = None;
                        Task::perform(
                            effects::test_intune(self.loc.clone(), self.plan()),
                            Message::IntuneTested,
                        )
                    }
                    None => Task::none(),
                }
            }
            Message::IntuneTested(r) => {
                self.compliance.testing = false;
                self.compliance.result = Some(r);
                Task::none()
            }
            Message::CertificatePicked(effects::Picked::File(p)) => {
                self.form.cloud_cert_file = p.display().to_string();
                self.form.no_cert_dialog = false;
                self.form.read_cloud_certificate();
                self.compliance.result = None;
                self.form_changed();
                Task::none()
            }
            Message::CertificatePicked(effects::Picked::Cancelled) => Task::none(),
            Message::CertificatePicked(effects::Picked::Unavailable) => {
                self.form.no_cert_dialog = true;
                self.focus.to(Some("cloud-cert"));
                Task::none()
            }
            Message::Connect(m) => {
                let finished = matches!(m, connect::Message::Finished(_));
                let ev = self.connect.update(m);
                if finished {
                    self.connect_task = None;
                }
                match ev {
                    Some(connect::Event::Run) => self.run_checks(),
                    Some(connect::Event::Cancel) => self.stop_checks(),
                    Some(connect::Event::Copy(s)) => iced::clipboard::write(s),
                    Some(connect::Event::GoTo(p)) => self.go_to(p),
                    None => Task::none(),
                }
            }
            Message::Summary(m) => {
                summary::update(&mut self.register_service, self.manager.is_some(), m);
                Task::none()
            }
            Message::Apply(m) => {
                self.apply.update(m);
                Task::none()
            }
            Message::Done(m) => match done::update(&self.done_context(), m) {
                Some(done::Event::Open(p)) => {
                    let _ = std::fs::create_dir_all(&p);
                    self.note = effects::open_folder(&p).err().map(|e| {
                        self.lang.f(
                            "No file manager could be opened ({}: {}). The folder is {}",
                            &[e.program, &e.error, &p.display().to_string()],
                        )
                    });
                    Task::none()
                }
                Some(done::Event::NoPolicy(p)) => {
                    let write = format!(
                        "eas-connector {}policy example > \"{}\"",
                        if self.cli_args().is_empty() {
                            String::new()
                        } else {
                            format!("{} ", self.cli_args())
                        },
                        p.display()
                    );
                    self.note = Some(self.lang.f(
                        "There is no access policy yet ({}): syncs stop until there is one, and no device is changed. Start from the example: {}",
                        &[&p.display().to_string(), &write],
                    ));
                    Task::none()
                }
                None => Task::none(),
            },
            Message::Back => {
                if self.can_go_back() {
                    let to = if self.step == Step::Apply {
                        Step::Summary
                    } else {
                        self.step.previous()
                    };
                    self.enter(to)
                } else {
                    Task::none()
                }
            }
            Message::Next | Message::Enter => {
                if self.confirm_cancel {
                    return self.update(Message::ConfirmCancel(true));
                }
                if let Some((id, _)) = self.why_not() {
                    // Say why at the field (and in the footer), and go there.
                    self.form.show_required = true;
                    if id.is_some() {
                        self.focus.to(id);
                    }
                    return Task::none();
                }
                if self.step == Step::Done {
                    return iced::exit();
                }
                self.enter(self.step.next())
            }
            Message::GoTo(s) => {
                if self.can_jump(s) {
                    self.enter(s)
                } else {
                    Task::none()
                }
            }
            Message::Cancel | Message::Escape => {
                if self.confirm_cancel {
                    self.confirm_cancel = false;
                } else if self.step == Step::Done {
                    return iced::exit();
                } else if !self.apply.running {
                    self.confirm_cancel = true;
                }
                Task::none()
            }
            Message::ConfirmCancel(yes) => {
                self.confirm_cancel = false;
                if yes {
                    let _ = self.stop_checks();
                    iced::exit()
                } else {
                    Task::none()
                }
            }
            Message::Shortcut(c) => match c {
                'n' => self.update(Message::Next),
                'b' => self.update(Message::Back),
                c => match self.page_shortcut(c) {
                    Some(m) => self.update(m),
                    None => Task::none(),
                },
            },
        }
    }

    fn page_shortcut(&self, c: char) -> Option<Message> {
        let f = &self.form;
        match self.step {
            Step::Welcome => self.welcome.shortcut(c).map(Message::Welcome),
            Step::ServerType => server_type::shortcut(f, c).map(Message::ServerType),
            Step::Server => server::shortcut(f, c).map(Message::Server),
            Step::Proxy => proxy::shortcut(f, c).map(Message::Proxy),
            Step::ServiceAccount => service_account::shortcut(f, c).map(Message::ServiceAccount),
            Step::Notification => notification::shortcut(f, c).map(Message::Notification),
            Step::Options => options::shortcut(f, c).map(Message::Options),
            Step::Compliance => compliance::shortcut(f, c).map(Message::Compliance),
            Step::Connect => self.connect.shortcut(c).map(Message::Connect),
            Step::Summary => summary::shortcut(self.register_service, c).map(Message::Summary),
            Step::Apply => None,
            Step::Done => done::shortcut(c).map(Message::Done),
        }
    }

    /// `--config-dir DIR --org NAME` for CLI commands about this organization, leaving out
    /// what is the default.
    fn cli_args(&self) -> String {
        let mut args = Vec::new();
        let default_root = ConfigLocation::new(None, self.loc.org())
            .map(|d| d.root() == self.loc.root())
            .unwrap_or(false);
        if !default_root {
            args.push(format!("--config-dir \"{}\"", self.loc.root().display()));
        }
        if self.loc.org() != "default" {
            args.push(format!("--org {}", self.loc.org()));
        }
        args.join(" ")
    }

    fn done_context(&self) -> done::Context<'_> {
        done::Context {
            outcome: self.apply.outcome.as_ref().and_then(|r| r.as_ref().ok()),
            config_dir: self.loc.org_dir(),
            logs_dir: self.loc.logs_dir(),
            policy: self.loc.file(crate::config::OrgFile::Policy),
            message: self.note.as_deref(),
            cli_args: self.cli_args(),
            lab: self.welcome.mode == Some(Mode::Lab),
        }
    }

    fn page(&self) -> Element<'_, Message> {
        let l = self.lang;
        let f = &self.form;
        match self.step {
            Step::Welcome => self.welcome.view(l).map(Message::Welcome),
            Step::ServerType => server_type::view(f, l).map(Message::ServerType),
            Step::Server => server::view(f, l).map(Message::Server),
            Step::Proxy => proxy::view(f, l).map(Message::Proxy),
            Step::ServiceAccount => service_account::view(f, l).map(Message::ServiceAccount),
            Step::Notification => notification::view(f, l).map(Message::Notification),
            Step::Options => options::view(f, l).map(Message::Options),
            Step::Compliance => compliance::view(f, &self.compliance, l).map(Message::Compliance),
            Step::Connect => self.connect.view(l).map(Message::Connect),
            Step::Summary => summary::view(
                summary::Context {
                    loc: &self.loc,
                    form: f,
                    mode: self.mode(),
                    service: self
                        .manager
                        .as_ref()
                        .map(|m| (m.service_name(self.loc.org()), m.describe())),
                    register_service: self.register_service,
                    no_service: self.no_service.as_ref(),
                    cli_args: self.cli_args(),
                    before: match (&self.welcome.existing, self.mode()) {
                        (Existing::Found { config, .. }, Mode::Reconfigure) => Some(config),
                        _ => None,
                    },
                    store: self.store.as_ref(),
                },
                l,
            )
            .map(Message::Summary),
            Step::Apply => self.apply.view(l).map(Message::Apply),
            Step::Done => done::view(self.done_context(), l).map(Message::Done),
        }
    }

    fn sidebar(&self) -> Element<'_, Message> {
        let l = self.lang;
        let mut col = column![].spacing(2);
        for s in Step::ALL {
            let current = s == self.step;
            let done = s < self.step;
            let mark = if current {
                "▶"
            } else if done {
                "✔"
            } else {
                " "
            };
            let name = text(format!("{}. {}", s.number(), s.title(l))).size(14);
            let label = row![
                text(mark).size(ui::SMALL).width(Length::Fixed(16.0)),
                if current { ui::bold(name) } else { name.into() },
            ]
            .spacing(4)
            .align_y(iced::Center);
            let b = button(label)
                .width(Length::Fill)
                .padding([6, 10])
                .on_press_maybe(self.can_jump(s).then_some(Message::GoTo(s)))
                .style(move |t: &Theme, status| {
                    let p = t.extended_palette();
                    let mut st = button::text(t, status);
                    if current {
                        st.background = Some(p.primary.weak.color.into());
                        st.text_color = p.primary.weak.text;
                        st.border.radius = 4.0.into();
                    } else if matches!(status, button::Status::Disabled) {
                        st.text_color = p.background.base.text.scale_alpha(0.5);
                    } else {
                        st.text_color = p.background.base.text;
                        if matches!(status, button::Status::Hovered) {
                            st.background = Some(p.background.strong.color.into());
                            st.border.radius = 4.0.into();
                        }
                    }
                    st
                });
            let jump = self.can_jump(s).then_some(Message::GoTo(s));
            col = col.push(focus::focusable(STEP_IDS[s.number() - 1], b, jump));
        }
        container(col)
            .width(Length::Fixed(265.0))
            .height(Length::Fill)
            .padding([16, 10])
            .style(|t: &Theme| {
                container::Style::default().background(t.extended_palette().background.weak.color)
            })
            .into()
    }

    pub fn view(&self) -> Element<'_, Message> {
        let l = self.lang;
        let header = container(
            column![
                text(l.t("EAS Connector Setup"))
                    .size(ui::SMALL)
                    .style(ui::muted),
                ui::bold(text(self.step.title(l)).size(24)),
                text(self.step.subtitle(l)).size(14),
            ]
            .spacing(2),
        )
        .width(Length::Fill)
        .padding([14, 24])
        .style(|t: &Theme| {
            let p = t.extended_palette();
            container::Style::default()
                .background(p.background.base.color)
                .border(iced::Border {
                    color: p.background.strong.color,
                    width: 0.0,
                    radius: 0.0.into(),
                })
        });
        // The outer container loosens the scrollable's minimum width, so that the page's
        // maximum width holds on wide screens (fields of 1 600 px at 1920 px otherwise).
        let content = scrollable(
            container(
                container(self.page())
                    .padding(iced::Padding {
                        top: 20.0,
                        right: 28.0,
                        bottom: 24.0,
                        left: 28.0,
                    })
                    .max_width(MAX_PAGE_WIDTH),
            )
            .width(Length::Fill),
        )
        .id(PAGE_SCROLL)
        .spacing(6)
        .height(Length::Fill)
        .width(Length::Fill);
        let next_label = match self.step {
            Step::Summary => l.t("Apply"),
            Step::Done => l.t("Finish"),
            _ => l.t("Next"),
        };
        let mut buttons = row![].spacing(8).align_y(iced::Center);
        if self.step != Step::Done {
            let back = self.can_go_back().then_some(Message::Back);
            buttons = buttons.push(focus::focusable(
                "back",
                button(text(l.t("Back")).size(ui::BODY))
                    .padding([8, 18])
                    .style(ui::plain_button)
                    .on_press_maybe(back.clone()),
                back,
            ));
        }
        let next = self.can_continue().then_some(Message::Next);
        buttons = buttons.push(focus::focusable(
            "next",
            button(text(next_label).size(ui::BODY))
                .padding([8, 22])
                .style(button::primary)
                .on_press_maybe(next.clone()),
            // Refused: Next says why (the page's Enter does the same).
            Some(Message::Next),
        ));
        if self.step != Step::Done {
            let cancel = (!self.apply.running).then_some(Message::Cancel);
            buttons = buttons.push(focus::focusable(
                "cancel",
                button(text(l.t("Cancel")).size(ui::BODY))
                    .padding([8, 18])
                    .style(ui::plain_button)
                    .on_press_maybe(cancel.clone()),
                cancel,
            ));
        }
        let footer = container(
            row![
                text(l.f(
                    "Step {} of {}",
                    &[
                        &self.step.number().to_string(),
                        &Step::ALL.len().to_string()
                    ]
                ))
                .size(ui::SMALL)
                .style(ui::muted),
                // Fills the room the buttons leave, wrapping rather than pushing them out of
                // the window (French at the default size).
                match self.why_not().filter(|_| self.form.show_required) {
                    // After a refused Next: why, where the key hints were.
                    Some((_, why)) => text(why)
                        .size(ui::SMALL)
                        .style(text::danger)
                        .width(Length::Fill),
                    None => text(
                        l.t("Enter: Next · Esc: Cancel · Tab: next field · Alt+letter: option")
                    )
                    .size(ui::SMALL)
                    .style(ui::muted)
                    .width(Length::Fill),
                },
                buttons,
            ]
            .spacing(20)
            .align_y(iced::Center),
        )
        .width(Length::Fill)
        .padding([12, 24])
        .style(|t: &Theme| {
            container::Style::default().background(t.extended_palette().background.weak.color)
        });
        let body = column![
            header,
            iced::widget::rule::horizontal(1),
            row![self.sidebar(), iced::widget::rule::vertical(1), content].height(Length::Fill),
            iced::widget::rule::horizontal(1),
            footer,
        ];
        if let Some(plan) = &self.confirm_remove {
            let (gone, kept) = words::removal_lines(l, plan);
            let mut list = column![text(l.t("This deletes:")).size(ui::BODY)].spacing(4);
            for g in gone {
                list = list.push(
                    text(format!("• {g}"))
                        .size(ui::BODY)
                        .wrapping(text::Wrapping::WordOrGlyph),
                );
            }
            let dialog = column![
                ui::bold(text(l.f("Remove the connector of “{}”?", &[&plan.org])).size(20)),
                list,
                text(kept).size(ui::BODY),
                confirm_buttons(
                    (
                        "keep-connector",
                        l.t("Keep the connector"),
                        Message::ConfirmRemove(false)
                    ),
                    (
                        "confirm-remove",
                        l.t("Remove"),
                        Message::ConfirmRemove(true)
                    ),
                ),
                text(l.t("Esc or Enter: keep it · Tab to Remove, then Space: remove"))
                    .size(ui::SMALL)
                    .style(ui::muted),
            ]
            .spacing(14);
            return keys::keys(modal(body, dialog.into(), 560.0), self.focus)
                .modal(&["keep-connector", "confirm-remove"])
                .into();
        }
        if !self.confirm_cancel {
            return keys::keys(body, self.focus).into();
        }
        let dialog = column![
            ui::bold(text(l.t("Cancel setup?")).size(20)),
            text(l.t("Nothing has been written yet; the connector stays as it was."))
                .size(ui::BODY),
            confirm_buttons(
                (
                    "continue-setup",
                    l.t("Continue setup"),
                    Message::ConfirmCancel(false)
                ),
                (
                    "cancel-setup",
                    l.t("Cancel setup"),
                    Message::ConfirmCancel(true)
                ),
            ),
            text(l.t("Enter: cancel setup · Esc: continue"))
                .size(ui::SMALL)
                .style(ui::muted),
        ]
        .spacing(14);
        keys::keys(modal(body, dialog.into(), 460.0), self.focus)
            .modal(&["continue-setup", "cancel-setup"])
            .into()
    }
}

/// `dialog` over `body`, which it dims and keeps from input.
/// A confirmation dialog's two buttons, right-aligned: the safe choice (plain) and the
/// destructive one (red), each focusable by its id.
fn confirm_buttons<'a>(
    (keep_id, keep, keep_msg): (&'static str, &'a str, Message),
    (act_id, act, act_msg): (&'static str, &'a str, Message),
) -> Element<'a, Message> {
    row![
        Space::new().width(Length::Fill),
        focus::focusable(
            keep_id,
            button(text(keep).size(ui::BODY))
                .padding([8, 18])
                .style(ui::plain_button)
                .on_press(keep_msg.clone()),
            Some(keep_msg),
        ),
        focus::focusable(
            act_id,
            button(text(act).size(ui::BODY))
                .padding([8, 18])
                .style(button::danger)
                .on_press(act_msg.clone()),
            Some(act_msg),
        ),
    ]
    .spacing(8)
    .into()
}

fn modal<'a>(
    body: impl Into<Element<'a, Message>>,
    dialog: Element<'a, Message>,
    width: f32,
) -> Element<'a, Message> {
    let dialog = container(dialog)
        .padding(24)
        .max_width(width)
        .style(|t: &Theme| {
            let p = t.extended_palette();
            container::Style::default()
                .background(p.background.base.color)
                .border(iced::Border {
                    color: p.background.strong.color,
                    width: 1.0,
                    radius: 8.0.into(),
                })
        });
    stack![
        body.into(),
        opaque(container(dialog).center(Length::Fill).style(|_t: &Theme| {
            container::Style::default().background(iced::Color::from_rgba(0.0, 0.0, 0.0, 0.45))
        }))
    ]
    .into()
}

/// Open the wizard's window and run until it closes.
pub fn run(opts: Options) -> iced::Result {
    let theme = opts
        .dark
        .map(|dark| if dark { Theme::Dark } else { Theme::Light });
    iced::application(
        move || Wizard::new(opts.clone()),
        Wizard::update,
        Wizard::view,
    )
    .title(Wizard::title)
    .default_font(ui::FONT)
    .theme(move |_: &Wizard| theme.clone())
    .window(iced::window::Settings {
        size: iced::Size::new(980.0, 720.0),
        min_size: Some(iced::Size::new(800.0, 600.0)),
        ..iced::window::Settings::default()
    })
    .run()
}
