//! The setup wizard, headless (iced_test Simulator): every page and the main flows — new
//! setup, reconfigure the proxy only, replace with a failing service that rolls back, a failed
//! validation on screen, and the lab demonstration. Clicks and typing go through the
//! Simulator; the messages it produces are fed to `Wizard::update`, and the tasks that
//! returns are run for real (apply, lab, detection) except where a test feeds check results.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex, Once};

use eas_connector::config::{fields, ConfigFile, ConfigLocation, ConnectorConfig};
use eas_connector::probe::{CheckId, CheckResult, Finding, Fix, Report, Status};
use eas_connector::secrets::{self, Preference, Secret, SecretKind};
use eas_connector::service::manager::{InstallSpec, ServiceError, ServiceManager, ServiceState};
use eas_connector::setup::{self, Plan};
use eas_connector::wire::kerberos::names;
use eas_connector::wizard::effects::Existing;
use eas_connector::wizard::i18n::Lang;
use eas_connector::wizard::pages::{connect, welcome::Mode};
use eas_connector::wizard::{self, Message, Step, Wizard};
use iced::futures::StreamExt;
use iced_test::runtime::Action;
use iced_test::selector;
use iced_test::Simulator;

fn init_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Single-threaded at this point of every test; no other code reads these.
        std::env::set_var("ICED_TEST_BACKEND", "tiny-skia");
        std::env::set_var("EAS_CONNECTOR_SECRET_STORE", "file");
    });
}

/// The window's settings that matter to layout: its default font (`wizard::run` sets the
/// same), so the Simulator lays out with the font the window shows.
fn settings() -> iced::Settings {
    iced::Settings {
        default_font: wizard::ui::FONT,
        ..iced::Settings::default()
    }
}

/// A wizard with a runtime that runs the tasks `update` returns.
struct Harness {
    w: Wizard,
    rt: tokio::runtime::Runtime,
}

impl Harness {
    fn new(root: &Path, org: &str, lang: Lang, manager: Option<Arc<dyn ServiceManager>>) -> Self {
        init_env();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (w, task) = Wizard::new(wizard::Options {
            lang,
            location: ConfigLocation::new(Some(root), org).unwrap(),
            manager,
            dark: None,
            no_service: None,
        });
        let mut h = Harness { w, rt };
        h.run(task);
        h
    }

    /// Run a task to completion, feeding its messages back in.
    fn run(&mut self, task: iced::Task<Message>) {
        let Some(stream) = iced_test::runtime::task::into_stream(task) else {
            return;
        };
        let actions: Vec<Action<Message>> = self.rt.block_on(stream.collect());
        for a in actions {
            if let Action::Output(m) = a {
                self.send(m);
            }
        }
    }

    fn send(&mut self, m: Message) {
        let t = self.w.update(m);
        self.run(t);
    }

    /// Update without running what it starts (the test supplies the results).
    fn send_only(&mut self, m: Message) {
        let _ = self.w.update(m);
    }

    fn ui(&self) -> Simulator<'_, Message> {
        Simulator::with_size(settings(), (1024.0, 1200.0), self.w.view())
    }

    fn ui_at(&self, size: (f32, f32)) -> Simulator<'_, Message> {
        Simulator::with_size(settings(), size, self.w.view())
    }

    fn sees(&self, s: &str) -> bool {
        self.ui().find(s).is_ok()
    }

    /// The first text on the page that contains `part`, in full.
    fn shown_containing(&self, part: &str) -> Option<String> {
        let part = part.to_string();
        self.ui()
            .find(move |c: selector::Candidate<'_>| match c {
                selector::Candidate::Text { content, .. } if content.contains(&part) => {
                    Some(content.to_string())
                }
                _ => None,
            })
            .ok()
    }

    fn click_text(&mut self, s: &str) {
        let mut ui = self.ui();
        ui.click(s)
            .unwrap_or_else(|e| panic!("click {s:?} on {:?}: {e}", self.w.step));
        let msgs: Vec<_> = ui.into_messages().collect();
        for m in msgs {
            self.send(m);
        }
    }

    fn click_id(&mut self, id: &'static str) {
        let mut ui = self.ui();
        ui.click(selector::id(id))
            .unwrap_or_else(|e| panic!("click #{id} on {:?}: {e}", self.w.step));
        let msgs: Vec<_> = ui.into_messages().collect();
        for m in msgs {
            self.send(m);
        }
    }

    /// Click a text box, select what is in it and type `text` over it.
    fn type_into(&mut self, id: &'static str, text: &str) {
        let mut ui = self.ui();
        ui.click(selector::id(id))
            .unwrap_or_else(|e| panic!("type into #{id} on {:?}: {e}", self.w.step));
        let _ = ui.tap_key(iced::keyboard::key::Named::End);
        let current = ui
            .find(selector::id(id))
            .ok()
            .map(|t| match t {
                iced_test::selector::Target::TextInput { content, .. } => content.chars().count(),
                _ => 0,
            })
            .unwrap_or(0);
        for _ in 0..current {
            let _ = ui.tap_key(iced::keyboard::key::Named::Backspace);
        }
        if !text.is_empty() {
            let _ = ui.typewrite(text);
        }
        let msgs: Vec<_> = ui.into_messages().collect();
        for m in msgs {
            self.send(m);
        }
    }

    /// The ids of the focusable widgets (text boxes) in the order Tab visits them: the
    /// order `focus_next` walks the widget tree.
    fn focus_order(&self) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let _ = self.ui().find(FocusOrder(seen.clone()));
        let ids = seen.lock().unwrap().clone();
        ids
    }

    /// The ids of the text boxes, in the order Tab visits them.
    fn box_order(&self) -> Vec<String> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let _ = self.ui().find(FocusOrder(seen.clone()));
        let all = seen.lock().unwrap().clone();
        let boxes = Arc::new(Mutex::new(Vec::new()));
        let _ = self.ui().find(TextBoxes(boxes.clone()));
        let boxes = boxes.lock().unwrap().clone();
        all.into_iter().filter(|id| boxes.contains(id)).collect()
    }

    fn next(&mut self) {
        assert!(
            self.w.can_continue(),
            "Next is disabled on {:?}",
            self.w.step
        );
        self.click_text(next_label(self.w.step, self.w.lang));
    }

    /// Feed the Connect page a finished run.
    fn feed_checks(&mut self, report: Report) {
        for c in &report.checks {
            self.send_only(Message::Connect(connect::Message::Checked(c.clone())));
        }
        self.send_only(Message::Connect(connect::Message::Finished(Ok(report))));
    }
}

/// A selector that matches nothing and records every focusable widget's id on the way.
struct FocusOrder(Arc<Mutex<Vec<String>>>);

impl iced_test::Selector for FocusOrder {
    type Output = ();

    fn select(&mut self, candidate: selector::Candidate<'_>) -> Option<()> {
        if let selector::Candidate::Focusable { id, .. } = candidate {
            // `Id(Custom("service-user"))`: the name between the quotes.
            let debug = format!("{id:?}");
            let name = debug.split('"').nth(1).unwrap_or(&debug).to_string();
            self.0.lock().unwrap().push(name);
        }
        None
    }

    fn description(&self) -> String {
        "every focusable widget".into()
    }
}

/// Records the id of every text box.
struct TextBoxes(Arc<Mutex<Vec<String>>>);

impl iced_test::Selector for TextBoxes {
    type Output = ();

    fn select(&mut self, candidate: selector::Candidate<'_>) -> Option<()> {
        if let selector::Candidate::TextInput { id: Some(id), .. } = candidate {
            let debug = format!("{id:?}");
            let name = debug.split('"').nth(1).unwrap_or(&debug).to_string();
            self.0.lock().unwrap().push(name);
        }
        None
    }

    fn description(&self) -> String {
        "every text box".into()
    }
}

fn next_label(step: Step, l: Lang) -> &'static str {
    match step {
        Step::Summary => l.t("Apply"),
        Step::Done => l.t("Finish"),
        _ => l.t("Next"),
    }
}

fn report(failed: &[CheckId]) -> Report {
    let checks: Vec<CheckResult> = CheckId::ALL
        .iter()
        .map(|id| {
            let bad = failed.contains(id);
            CheckResult {
                id: *id,
                key: id.key(),
                number: id.number(),
                title: id.title(),
                status: if bad { Status::Failed } else { Status::Passed },
                duration_ms: 12,
                detail: if bad {
                    format!("{} did not answer", id.title())
                } else {
                    "fine".into()
                },
                fix: bad.then(|| Fix::Refused.to_string()),
                finding: Box::new(if bad {
                    Finding::Error {
                        text: format!("{} did not answer", id.title()),
                    }
                } else {
                    Finding::DnsIsAddress {
                        host: "10.0.0.5".into(),
                    }
                }),
                remedy: bad.then(|| Box::new(Fix::Refused)),
                sign_in: None,
            }
        })
        .collect();
    Report {
        ok: failed.is_empty(),
        checks,
        total_ms: 120,
    }
}

/// Write an existing connector (no service) the way `configure --answers` would.
fn existing(root: &Path, org: &str) -> ConfigLocation {
    init_env();
    let loc = ConfigLocation::new(Some(root), org).unwrap();
    let plan = Plan {
        fields: [
            ("ClientAccessServer", "cas01.contoso.test"),
            ("ServiceAccount/User", "CONTOSO\\svc-eas"),
            ("NotificationAccount/User", "eas-notify@contoso.test"),
            ("NotificationAccount/Mailbox", "eas-notify@contoso.test"),
            ("QuickSyncIntervalMinutes", "30"),
        ]
        .iter()
        .map(|(k, v)| (fields::find(k).unwrap(), v.to_string()))
        .collect(),
        passwords: vec![
            (SecretKind::ServiceAccount, Secret::new("Old-Svc-Pa55")),
            (
                SecretKind::NotificationAccount,
                Secret::new("Old-Notify-Pa55"),
            ),
        ],
        cloud_certificate: None,
        replace: false,
        register_service: false,
        skip_validation: true,
        service_exe: "eas-connector".into(),
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(setup::apply(&loc, &plan, None, |_| {}))
        .unwrap();
    loc
}

fn stored(loc: &ConfigLocation, kind: SecretKind) -> Option<String> {
    secrets::open(loc, Preference::File)
        .unwrap()
        .store
        .get(kind)
        .unwrap()
        .map(|s| s.expose().to_string())
}

/// Fill pages 2–7 for a new connector by clicking and typing.
fn fill_new(h: &mut Harness) {
    assert_eq!(h.w.step, Step::ServerType);
    h.click_id("type-onprem");
    h.next();
    assert!(!h.w.can_continue(), "Server needs an address");
    h.type_into("cas", "cas01");
    let err = h.w.form.error(&fields::CLIENT_ACCESS_SERVER).unwrap();
    assert!(err.contains("not fully qualified"), "{err}");
    assert!(h.sees(&err), "the inline error is shown");
    assert!(!h.w.can_continue());
    h.type_into("cas", "cas01.contoso.test");
    assert!(h.w.form.error(&fields::CLIENT_ACCESS_SERVER).is_none());
    h.next();
    assert_eq!(h.w.step, Step::Proxy);
    h.next();
    h.type_into("service-user", "CONTOSO\\svc-eas");
    assert!(!h.w.can_continue(), "a password is needed");
    h.type_into("service-password", "Svc-Pa55!");
    h.next();
    h.type_into("notify-user", "eas-notify@contoso.test");
    h.type_into("notify-mailbox", "eas-notify@contoso.test");
    h.type_into("notify-password", "Notify-Pa55!");
    h.next();
    assert_eq!(h.w.step, Step::Options);
    h.type_into("quick-sync", "2");
    assert!(h.sees(&h.w.form.error(&fields::QUICK_SYNC_INTERVAL).unwrap()));
    assert!(!h.w.can_continue());
    h.type_into("quick-sync", "20");
}

/// Go from Options (past Compliance source, the policy file only) to Connect without running
/// the checks, and feed a passing run.
fn connect_passes(h: &mut Harness) {
    assert!(h.w.can_continue());
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Compliance);
    assert!(h.w.can_continue(), "the policy file alone needs nothing");
    h.send_only(Message::Next);
    assert_eq!(h.w.step, Step::Connect);
    assert!(h.w.connect.running);
    assert!(!h.w.can_continue(), "Next waits for the checks");
    h.feed_checks(report(&[]));
    assert!(h.sees(&format!("All required checks passed in {} ms.", 120)));
    h.next();
    assert_eq!(h.w.step, Step::Summary);
}

#[test]
fn new_setup_writes_config_and_passwords_without_a_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "contoso", Lang::En, None);
    assert_eq!(h.w.welcome.existing, Existing::None);
    assert!(
        h.w.can_continue(),
        "the only choice, Set up new, is preselected"
    );
    h.click_text("Set up new");
    h.next();
    fill_new(&mut h);
    connect_passes(&mut h);
    assert!(h.sees("Write configuration only, no service: no service manager is available to this program. Register the service later, as administrator:"));
    assert!(h
        .shown_containing("--org contoso service install")
        .is_some_and(|c| c.starts_with("eas-connector --config-dir")));
    h.next();
    assert_eq!(h.w.step, Step::Apply);
    assert!(h.w.apply.succeeded(), "{:?}", h.w.apply.outcome);
    h.next();
    assert_eq!(h.w.step, Step::Done);
    assert!(h.sees("not registered (configuration only)"));
    let loc = ConfigLocation::new(Some(dir.path()), "contoso").unwrap();
    let xml = std::fs::read_to_string(loc.config_file()).unwrap();
    assert!(xml.contains("<ClientAccessServer>cas01.contoso.test</ClientAccessServer>"));
    assert!(xml.contains("<QuickSyncIntervalMinutes>20</QuickSyncIntervalMinutes>"));
    assert!(!xml.contains("Pa55"), "no password in the XML");
    assert_eq!(
        stored(&loc, SecretKind::ServiceAccount).as_deref(),
        Some("Svc-Pa55!")
    );
    assert_eq!(
        stored(&loc, SecretKind::NotificationAccount).as_deref(),
        Some("Notify-Pa55!")
    );
}

#[test]
fn reconfigure_changes_only_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let loc = existing(dir.path(), "default");
    let before = std::fs::read_to_string(loc.config_file()).unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    assert!(matches!(h.w.welcome.existing, Existing::Found { .. }));
    h.click_text("Reconfigure");
    assert_eq!(h.w.form.cas, "cas01.contoso.test");
    assert!(h.w.form.stored.service && h.w.form.stored.notification);
    // Open, jump to Proxy from the step list.
    h.click_text("4. Proxy");
    assert_eq!(h.w.step, Step::Proxy);
    h.click_id("proxy-enabled");
    h.type_into("proxy-host", "proxy.contoso.test");
    h.type_into("proxy-port", "70000");
    assert!(h.sees(&h.w.form.error(&fields::PROXY_PORT).unwrap()));
    assert!(!h.w.can_continue());
    h.type_into("proxy-port", "3128");
    // Stored passwords are offered as "stored; leave empty to keep".
    h.click_text("5. Service account");
    assert!(h.sees("A password is stored; type a new one only to change it."));
    assert!(h.w.can_continue());
    // Straight to Connect.
    h.send_only(Message::GoTo(Step::Connect));
    assert_eq!(h.w.step, Step::Connect);
    h.feed_checks(report(&[]));
    h.next();
    assert!(h.sees("The existing configuration is updated in place; settings you added by hand are kept, the previous file is kept as .bak."));
    assert!(h.sees("none typed; the stored ones are kept"));
    // What changes, setting by setting, and nothing else; then every setting.
    assert!(h.sees("What changes"));
    assert!(h.sees("Use a proxy server: no → yes"));
    assert!(h.sees("Proxy host: — → proxy.contoso.test"));
    assert!(h.sees("Port: 8080 → 3128"), "the port's default was 8080");
    assert!(!h.sees("Client Access Server: cas01.contoso.test → cas01.contoso.test"));
    assert!(h.sees("All settings"));
    assert!(h.sees("Quick sync every (minutes)"));
    h.next();
    assert!(h.w.apply.succeeded(), "{:?}", h.w.apply.outcome);
    let after = std::fs::read_to_string(loc.config_file()).unwrap();
    assert_ne!(before, after);
    let c = ConfigFile::load(&loc).unwrap().config;
    assert!(c.proxy.enabled);
    assert_eq!(c.proxy.host.as_deref(), Some("proxy.contoso.test"));
    assert_eq!(c.proxy.port, 3128);
    assert_eq!(c.quick_sync_interval_minutes, 30, "the rest is kept");
    assert_eq!(c.client_access_server.to_string(), "cas01.contoso.test");
    assert_eq!(
        stored(&loc, SecretKind::ServiceAccount).as_deref(),
        Some("Old-Svc-Pa55")
    );
    assert_eq!(
        stored(&loc, SecretKind::NotificationAccount).as_deref(),
        Some("Old-Notify-Pa55")
    );
}

/// A service manager that registers fine and then cannot start the service.
#[derive(Default)]
struct FailingStart {
    calls: Mutex<Vec<String>>,
}

impl ServiceManager for FailingStart {
    fn describe(&self) -> String {
        "test service manager".into()
    }
    fn service_name(&self, org: &str) -> String {
        format!("eas-connector@{org}")
    }
    fn install(&self, org: &str, _spec: &InstallSpec) -> Result<(), ServiceError> {
        self.calls.lock().unwrap().push(format!("install {org}"));
        Ok(())
    }
    fn uninstall(&self, org: &str) -> Result<(), ServiceError> {
        self.calls.lock().unwrap().push(format!("uninstall {org}"));
        Ok(())
    }
    fn start(&self, org: &str) -> Result<(), ServiceError> {
        self.calls.lock().unwrap().push(format!("start {org}"));
        Err(ServiceError::Failed {
            action: "start",
            service: self.service_name(org),
            detail: "the service exited at once".into(),
        })
    }
    fn stop(&self, _org: &str) -> Result<(), ServiceError> {
        Ok(())
    }
    fn state(&self, _org: &str) -> Result<ServiceState, ServiceError> {
        Ok(ServiceState::NotInstalled)
    }
    fn installed(&self) -> Result<Vec<String>, ServiceError> {
        Ok(vec![])
    }
}

#[test]
fn replace_with_a_failing_service_rolls_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let loc = existing(dir.path(), "default");
    let before = std::fs::read(loc.config_file()).unwrap();
    let manager = Arc::new(FailingStart::default());
    let mut h = Harness::new(dir.path(), "default", Lang::En, Some(manager.clone()));
    h.click_text("Replace existing connector");
    assert_eq!(h.w.welcome.mode, Some(Mode::Replace));
    assert!(h.w.form.cas.is_empty(), "Replace starts from defaults");
    h.next();
    fill_new(&mut h);
    connect_passes(&mut h);
    assert!(h.sees("Service eas-connector@default with test service manager."));
    assert!(h.w.register_service);
    h.next();
    assert_eq!(h.w.step, Step::Apply);
    let err = match &h.w.apply.outcome {
        Some(Err(e)) => e.clone(),
        other => panic!("expected a failure, got {other:?}"),
    };
    assert!(
        err.to_string().contains("the service exited at once"),
        "{err}"
    );
    // On the page, the explanation says what to do, with the manager's words in it.
    assert!(
        h.shown_containing("the service manager refused for")
            .is_some_and(|t| t.contains("the service exited at once")),
        "the failure is explained on the page"
    );
    assert!(!h.w.can_continue(), "no Next after a failure");
    assert!(h.w.can_go_back(), "Back to the Summary after a failure");
    let undone: Vec<_> =
        h.w.apply
            .lines
            .iter()
            .filter(|l| l.state == wizard::pages::apply::LineState::RolledBack)
            .map(|l| l.step)
            .collect();
    assert_eq!(
        undone,
        vec![
            setup::Step::RegisterService,
            setup::Step::StoreSecrets,
            setup::Step::WriteConfig
        ]
    );
    assert!(h.sees("Undone: Write the configuration"));
    assert_eq!(
        std::fs::read(loc.config_file()).unwrap(),
        before,
        "config restored"
    );
    assert_eq!(
        stored(&loc, SecretKind::ServiceAccount).as_deref(),
        Some("Old-Svc-Pa55")
    );
    assert_eq!(
        manager.calls.lock().unwrap().as_slice(),
        ["install default", "start default", "uninstall default"]
    );
    h.click_text("Back");
    assert_eq!(h.w.step, Step::Summary);
}

#[test]
fn failed_validation_is_shown_with_its_fix_and_blocks_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.click_text("Set up new");
    h.next();
    fill_new(&mut h);
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Compliance);
    h.send_only(Message::Next);
    assert_eq!(h.w.step, Step::Connect);
    // Partial progress is visible while running.
    let r = report(&[CheckId::ServiceAccount]);
    h.send_only(Message::Connect(connect::Message::Checked(
        r.checks[0].clone(),
    )));
    assert!(
        h.sees("Checking… 1 of 14 done. The checks run at the same time; each stops after 20 s."),
        "{:?}",
        h.shown_containing("Checking…")
    );
    h.feed_checks(r);
    assert!(!h.w.can_continue());
    assert!(h.sees("Service account sign-in did not answer"));
    // The fix in the wizard's words, with the way to the field it is about.
    assert!(h.sees(
        "Fix: check the server name and port; is IIS running and the firewall open on that port?"
    ));
    assert!(h.sees("Go to Server › Client Access Server"));
    assert!(h.sees(
        "Some checks failed. Follow the fix under each, go Back to change a setting, then Retry."
    ));
    // Copy report hands Report::to_text to the clipboard.
    let text = h.w.connect.report_text();
    assert!(text.contains("Validation failed"));
    assert!(!text.contains("Pa55"));
    h.click_text("Copy report");
    assert!(h.sees("Copied"));
    // Retry starts a new run (not executed here).
    h.send_only(Message::Connect(connect::Message::Retry));
    assert!(h.w.connect.running && h.w.connect.results.is_empty());
    h.send_only(Message::Connect(connect::Message::Cancel));
    assert!(h.sees("Cancelled. Press Retry to check again."));
}

#[test]
fn keyboard_enter_escape_tab_and_alt_shortcuts() {
    use iced::keyboard::{key::Named, Key, Modifiers};
    assert_eq!(
        wizard::keys::shortcut(&press(Key::Character("U".into()), Modifiers::ALT, None)),
        Some('u')
    );
    assert!(wizard::keys::shortcut(&press(Key::Named(Named::Tab), Modifiers::ALT, None)).is_none());
    assert!(
        wizard::keys::shortcut(&press(Key::Character("u".into()), Modifiers::empty(), None))
            .is_none()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    assert_eq!(
        h.w.welcome.mode,
        Some(Mode::New),
        "the only choice is preselected"
    );
    h.send(Message::Enter);
    assert_eq!(h.w.step, Step::ServerType);
    h.send(Message::Shortcut('h'));
    assert_eq!(
        h.w.form.server_type,
        eas_connector::config::ExchangeServerType::Hosted
    );
    h.send(Message::Shortcut('n'));
    assert_eq!(h.w.step, Step::Server);
    assert!(h.ui().find(selector::id("hosted")).is_ok());
    h.send(Message::Enter);
    assert_eq!(
        h.w.step,
        Step::Server,
        "Next is disabled while the page is invalid"
    );
    h.send(Message::Shortcut('b'));
    assert_eq!(h.w.step, Step::ServerType);
    h.send(Message::Escape);
    assert!(h.w.confirm_cancel);
    assert!(h.sees("Cancel setup?"));
    h.send(Message::Next);
    h.send(Message::Escape);
    assert!(!h.w.confirm_cancel, "Esc in the dialog continues the setup");
    assert_eq!(h.w.step, Step::ServerType);
    h.send(Message::Shortcut('o'));
    h.send(Message::Enter);
    h.type_into("cas", "cas01.contoso.test");
    h.send(Message::Enter);
    assert_eq!(h.w.step, Step::Proxy);
    h.send(Message::Shortcut('u'));
    assert!(h.w.form.proxy_enabled);
    h.send(Message::Shortcut('c'));
    assert!(h.w.form.proxy_use_credentials);
    assert!(h.ui().find(selector::id("proxy-password")).is_ok());
}

#[test]
fn every_page_renders_in_english_dutch_and_french() {
    for lang in [Lang::En, Lang::Nl, Lang::Fr] {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::new(dir.path(), "default", lang, None);
        h.send(Message::Shortcut('s'));
        h.w.form = eas_connector::wizard::form::Form {
            cas: "cas01.contoso.test".into(),
            service_user: "CONTOSO\\svc-eas".into(),
            service_password: Secret::new("x"),
            notify_user: "eas-notify@contoso.test".into(),
            notify_mailbox: "eas-notify@contoso.test".into(),
            ..Default::default()
        };
        h.w.connect.report = Some(report(&[CheckId::Ews]));
        for c in &h.w.connect.report.clone().unwrap().checks {
            h.w.connect.results.insert(c.id, c.clone());
        }
        h.send_only(Message::Apply(wizard::pages::apply::Message::Progress(
            setup::Progress::Done(
                setup::Step::WriteConfig,
                setup::Detail::Wrote {
                    path: "ConnectorServiceConfiguration.xml".into(),
                },
            ),
        )));
        for step in Step::ALL {
            h.w.step = step;
            h.w.form.proxy_enabled = true;
            h.w.form.proxy_use_credentials = true;
            h.w.form.parallel = true;
            let mut ui = h.ui();
            assert!(ui.find(step.title(lang)).is_ok(), "{lang:?} {step:?}");
            assert!(
                ui.find(next_label(step, lang)).is_ok(),
                "{lang:?} {step:?} has its Next button"
            );
            if lang == Lang::En {
                let snap = ui.snapshot(&iced::Theme::Light).unwrap();
                // EAS_WIZARD_SNAPSHOTS=DIR keeps each page as a PNG, to look at.
                if let Some(dir) = std::env::var_os("EAS_WIZARD_SNAPSHOTS") {
                    let path = Path::new(&dir).join(format!("{:02}-{step:?}.png", step.number()));
                    let _ = std::fs::remove_file(&path);
                    let _ = snap.matches_image(&path);
                }
            }
        }
    }
    assert_eq!(Lang::Nl.t("Next"), "Volgende");
    assert_eq!(Lang::Fr.t("Next"), "Suivant");
}

/// A selector that matches nothing and records every text on the way.
struct AllTexts(Arc<Mutex<Vec<String>>>);

impl iced_test::Selector for AllTexts {
    type Output = ();

    fn select(&mut self, candidate: selector::Candidate<'_>) -> Option<()> {
        if let selector::Candidate::Text { content, .. } = candidate {
            self.0.lock().unwrap().push(content.to_string());
        }
        None
    }

    fn description(&self) -> String {
        "every text".into()
    }
}

/// A check result as the probe makes it, for the pages.
fn result(id: CheckId, status: Status, finding: Finding, remedy: Option<Fix>) -> CheckResult {
    CheckResult {
        id,
        key: id.key(),
        number: id.number(),
        title: id.title(),
        status,
        duration_ms: 7,
        detail: finding.to_string(),
        fix: remedy.as_ref().map(ToString::to_string),
        finding: Box::new(finding),
        remedy: remedy.map(Box::new),
        sign_in: None,
    }
}

/// Every page in Dutch and French, with field errors, failed checks with their details and
/// fixes, and the Done page's store and next steps: no text on screen is one of the catalog's
/// English strings, and none reads as English (the words below occur in no Dutch or French
/// text). Parameters are chosen so that they are not English either.
#[test]
fn nothing_english_is_shown_in_dutch_or_french() {
    use eas_connector::probe::finding::{HttpPowerShell, SignedInTo};
    use eas_connector::probe::Account;
    let english = [
        // ("is" and "of" are Dutch words too.)
        " the ",
        " and ",
        " not ",
        " with ",
        " check ",
        " enter ",
        "Fix:",
        " which ",
        " could ",
        " no ",
        "Go to",
        " to ",
        " has ",
        " does ",
        " was ",
        " were ",
        " failed",
        " passed ",
        " wrote ",
        " stopped ",
        " registered ",
        " restored ",
        " removed ",
        " password",
        " cannot ",
        " what ",
        " needs ",
        " running",
        " undone",
        " started",
    ];
    let catalog: Vec<&str> = eas_connector::wizard::i18n::STRINGS
        .iter()
        .chain(eas_connector::wizard::words::STRINGS)
        .map(|(en, _, _)| *en)
        .collect();
    for lang in [Lang::Nl, Lang::Fr] {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::new(dir.path(), "default", lang, None);
        let mut shown = Vec::new();
        let collect = |h: &Harness, shown: &mut Vec<(Step, String)>| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let _ = h.ui().find(AllTexts(seen.clone()));
            for t in seen.lock().unwrap().iter() {
                shown.push((h.w.step, t.clone()));
            }
        };
        let ca = dir.path().join("ca.cer");
        std::fs::write(&ca, [0x30u8, 0x82, 0x01]).unwrap();
        let bad = eas_connector::wizard::form::Form {
            cas: "cas01".into(),
            show_advanced: true,
            ews_url: "ftp://x".into(),
            ca_file: ca.display().to_string(),
            proxy_enabled: true,
            proxy_port: "70000".into(),
            proxy_use_credentials: true,
            proxy_user: "a b".into(),
            service_user: "nodomain".into(),
            show_kerberos: true,
            kerberos_realm: "corp\\x".into(),
            kerberos_kdc: "dc1,,dc2".into(),
            kerberos_spn: "nohttp".into(),
            notify_user: "x@".into(),
            notify_mailbox: "kein".into(),
            parallel: true,
            max_runspaces: "99".into(),
            quick_sync: "zz".into(),
            full_sync: "25:99".into(),
            intune: true,
            cloud_tenant: "x y".into(),
            cloud_app: "zz".into(),
            cloud_cert_file: ca.display().to_string(),
            cloud_cert: Some(Err(Arc::new(
                eas_connector::cloud::ImportError::NoCertificate { path: ca.clone() },
            ))),
            ..Default::default()
        };
        let checks = vec![
            result(
                CheckId::Config,
                Status::Failed,
                Finding::ConfigIncomplete {
                    gaps: vec![
                        eas_connector::probe::Gap::NoServicePassword,
                        eas_connector::probe::Gap::NoProxyPassword,
                    ],
                },
                Some(Fix::CompleteConfiguration),
            ),
            result(
                CheckId::Dns,
                Status::Warning,
                Finding::DnsResolved {
                    host: "cas01.contoso.test".into(),
                    addresses: vec!["10.0.0.5".into()],
                },
                Some(Fix::NameBehindProxy),
            ),
            result(
                CheckId::Tcp,
                Status::Passed,
                Finding::TcpConnected {
                    peer: "10.0.0.5:443".into(),
                    through_proxy: true,
                    ms: 3,
                },
                None,
            ),
            result(
                CheckId::Proxy,
                Status::Failed,
                Finding::ProxyCouldNotConnect {
                    proxy: "proxy:8080".into(),
                    target: "cas01:443".into(),
                    status: 502,
                },
                Some(Fix::ProxyUnreachable),
            ),
            result(
                CheckId::Tls,
                Status::Failed,
                Finding::TlsTrusted {
                    http: Some(HttpPowerShell {
                        url: "http://cas01/PowerShell/".into(),
                        https: "cas01:443".into(),
                    }),
                    certificate: None,
                },
                Some(Fix::UnknownIssuer),
            ),
            result(
                CheckId::WinRm,
                Status::Failed,
                Finding::Http404 {
                    server: "cas01:443".into(),
                    path: "/PowerShell".into(),
                },
                Some(Fix::NotExchangeCas),
            ),
            result(
                CheckId::ServiceAccount,
                Status::Failed,
                Finding::SchemeNotOffered {
                    url: "https://cas01/PowerShell".into(),
                    scheme: "Basic".into(),
                    offered: vec!["Negotiate".into()],
                },
                Some(Fix::SchemeUseKerberos),
            ),
            result(
                CheckId::Runspace,
                Status::Skipped,
                Finding::SkippedAfter {
                    number: 7,
                    title: CheckId::ServiceAccount.title(),
                },
                None,
            ),
            result(
                CheckId::Cmdlets,
                Status::Failed,
                Finding::CmdletsMissing {
                    user: "CONTOSO\\svc".into(),
                    missing: vec![("Get-MobileDevice".into(), "Recipient Management".into())],
                },
                Some(Fix::RoleGroups {
                    user: "CONTOSO\\svc".into(),
                    groups: vec!["Recipient Management".into()],
                }),
            ),
            result(
                CheckId::ExchangeServers,
                Status::Warning,
                Finding::Servers {
                    count: 1,
                    version: "2019".into(),
                    names: vec!["CAS01".into()],
                },
                Some(Fix::NoFailoverPeer),
            ),
            result(
                CheckId::Autodiscover,
                Status::Failed,
                Finding::Timeout { secs: 20 },
                Some(Fix::PublishAutodiscover),
            ),
            result(
                CheckId::Ews,
                Status::Passed,
                Finding::SignedIn {
                    user: "eas-notify@contoso.test".into(),
                    mechanism: "NTLM".into(),
                    to: SignedInTo::EwsMailbox,
                    kerberos_not_used: None,
                },
                None,
            ),
            result(
                CheckId::ActiveSync,
                Status::Failed,
                Finding::NoCredentials,
                Some(Fix::AccountCredentials(Account::Notification)),
            ),
        ];
        let rep = Report {
            ok: false,
            checks: checks.clone(),
            total_ms: 99,
        };
        for step in Step::ALL {
            h.w.step = step;
            h.w.form = bad.clone();
            h.w.connect = Default::default();
            if step == Step::Connect {
                for c in &checks {
                    h.w.connect.results.insert(c.id, c.clone());
                }
                h.w.connect.report = Some(rep.clone());
            }
            if step == Step::Done {
                h.w.apply.outcome = Some(Ok(eas_connector::wizard::effects::Outcome {
                    config_path: dir.path().join("c.xml"),
                    secret_store: String::new(),
                    backend: Some(secrets::Backend::File(dir.path().join("s"))),
                    service: None,
                }));
            }
            collect(&h, &mut shown);
        }
        // Apply: every step's line, each kind of failure's explanation, and a service's state.
        {
            use eas_connector::service::manager::{ServiceError, ServiceState};
            use eas_connector::setup::{Detail, Progress, SetupError, Step as S};
            use wizard::pages::apply;
            h.w.step = Step::Apply;
            let details = [
                (S::Validate, Detail::ChecksPassed { ms: 5 }),
                (S::Validate, Detail::ChecksFailed),
                (
                    S::StopOldService,
                    Detail::Stopped {
                        service: "eas@x".into(),
                    },
                ),
                (
                    S::WriteConfig,
                    Detail::Wrote {
                        path: "/c/x.xml".into(),
                    },
                ),
                (
                    S::StoreSecrets,
                    Detail::PasswordsStored {
                        count: 2,
                        certificate: true,
                        store: secrets::Backend::File("/c/s.json".into()),
                    },
                ),
                (
                    S::RegisterService,
                    Detail::Registered {
                        service: "eas@x".into(),
                        manager: "systemd".into(),
                    },
                ),
                (
                    S::StartService,
                    Detail::StartedService {
                        service: "eas@x".into(),
                        state: ServiceState::Running,
                    },
                ),
            ];
            let undone = [
                (S::StopOldService, Detail::RestartedPrevious),
                (S::WriteConfig, Detail::RestoredConfig),
                (S::WriteConfig, Detail::ConfigNotRestored),
                (S::StoreSecrets, Detail::RestoredPasswords),
                (S::RegisterService, Detail::RemovedService),
            ];
            let errors = vec![
                SetupError::Service {
                    step: S::RegisterService,
                    source: ServiceError::NotElevated { action: "x" },
                    hint: "",
                },
                SetupError::Service {
                    step: S::RegisterService,
                    source: ServiceError::Unavailable("systemd?".into()),
                    hint: "",
                },
                SetupError::Service {
                    step: S::StartService,
                    source: ServiceError::Failed {
                        action: "start",
                        service: "eas@x".into(),
                        detail: "exit 1".into(),
                    },
                    hint: "",
                },
                SetupError::Secrets {
                    step: S::StoreSecrets,
                    source: secrets::SecretError::SystemdUnsupported,
                },
                SetupError::Validation(Box::new(rep.clone())),
                SetupError::Incomplete(vec!["ServiceAccount/User".into()]),
                SetupError::Field {
                    field: "ServiceAccount/User",
                    problem: eas_connector::config::validate::ValueError::NoDomain("svc".into()),
                },
            ];
            for e in errors {
                h.w.apply = apply::State::default();
                for (step, d) in details.iter().cloned() {
                    h.send_only(Message::Apply(apply::Message::Progress(Progress::Started(
                        step,
                    ))));
                    h.send_only(Message::Apply(apply::Message::Progress(Progress::Done(
                        step, d,
                    ))));
                }
                h.send_only(Message::Apply(apply::Message::Progress(Progress::Failed(
                    S::StartService,
                    Detail::Error(e.to_string()),
                ))));
                for (step, d) in undone.iter().cloned() {
                    h.send_only(Message::Apply(apply::Message::Progress(
                        Progress::RolledBack(step, d),
                    )));
                }
                h.send_only(Message::Apply(apply::Message::Finished(Err(Arc::new(e)))));
                collect(&h, &mut shown);
            }
            h.w.apply = apply::State::default();
            h.w.step = Step::Done;
            h.w.apply.outcome = Some(Ok(eas_connector::wizard::effects::Outcome {
                config_path: dir.path().join("c.xml"),
                secret_store: String::new(),
                backend: Some(secrets::Backend::Systemd(dir.path().join("Credentials"))),
                service: Some(("eas@x".into(), ServiceState::Failed("exit 1".into()))),
            }));
            collect(&h, &mut shown);
        }
        // Compliance source: Test's outcomes, each of check 14's fixes, a test that could not
        // run, and the other certificate problems.
        {
            use eas_connector::probe::finding::CloudFix;
            h.w.step = Step::Compliance;
            h.w.form = bad.clone();
            let outcome = |status: Status, finding: Finding, fix: Option<Fix>| {
                eas_connector::probe::Outcome {
                    status,
                    finding: Box::new(finding),
                    fix: fix.map(Box::new),
                    sign_in: None,
                }
            };
            let mut results = vec![
                Ok(outcome(
                    Status::Passed,
                    Finding::IntuneRead {
                        devices: 999,
                        with_eas: 99,
                        more_pages: true,
                        graph: "https://graph.x".into(),
                    },
                    None,
                )),
                Ok(outcome(
                    Status::NotApplicable,
                    Finding::CloudNotConfigured,
                    None,
                )),
                Err(eas_connector::wizard::effects::TestError::Settings(
                    "x".into(),
                )),
            ];
            for fix in [
                CloudFix::Identity,
                CloudFix::Credential,
                CloudFix::CertificateNotUploaded,
                CloudFix::Consent,
                CloudFix::Clock,
                CloudFix::Proxy,
                CloudFix::Addresses,
                CloudFix::Retry,
            ] {
                results.push(Ok(outcome(
                    Status::Failed,
                    Finding::Error {
                        text: "AADSTS700016".into(),
                    },
                    Some(Fix::Cloud(fix)),
                )));
            }
            for r in results {
                h.w.compliance.result = Some(r);
                collect(&h, &mut shown);
            }
            h.w.compliance.result = None;
            use eas_connector::cloud::ImportError as E;
            let p = || std::path::PathBuf::from("/c/app.pfx");
            for e in [
                E::Read {
                    path: p(),
                    source: std::io::Error::from_raw_os_error(13),
                },
                E::NoKey { path: p() },
                E::EncryptedPem { path: p() },
                E::Pfx {
                    path: p(),
                    reason: "MAC".into(),
                },
                E::NotRsa { path: p() },
                E::Mismatch { path: p() },
                E::BadCertificate {
                    path: p(),
                    reason: "DER".into(),
                },
                E::Expired {
                    path: p(),
                    not_after: "2026-01-01T00:00:00Z".parse().unwrap(),
                },
            ] {
                h.w.form.cloud_cert = Some(Err(Arc::new(e)));
                collect(&h, &mut shown);
            }
            h.w.form.cloud_credential = eas_connector::config::model::CloudCredential::Secret;
            h.w.form.show_required = true;
            collect(&h, &mut shown);
        }
        // Welcome: a configuration that cannot be read, and a lab that did not start.
        {
            use eas_connector::wizard::effects::{LabStartError, Unreadable};
            use eas_connector::wizard::pages::welcome::LabStatus;
            h.w.step = Step::Welcome;
            for u in [
                Unreadable::Malformed {
                    path: "/c/x.xml".into(),
                    detail: "<x> 3:4".into(),
                },
                Unreadable::Invalid {
                    path: "/c/x.xml".into(),
                    problems: vec![eas_connector::config::FieldProblem {
                        field: "Proxy/Port".into(),
                        line: Some(3),
                        column: Some(4),
                        problem: "70000".into(),
                        fix: None,
                    }],
                },
                Unreadable::Other("EACCES".into()),
            ] {
                h.w.welcome.existing = Existing::Unreadable(u);
                h.w.welcome.lab = LabStatus::Failed(LabStartError::Folder {
                    path: "/tmp/x".into(),
                    reason: "ENOSPC".into(),
                });
                collect(&h, &mut shown);
            }
            // The status home, with devices, conflicts and a sync refused; the question
            // Remove asks, and what it did or why not.
            use eas_connector::setup::remove::{Removal, RemoveError, Removed};
            h.w.welcome.existing = Existing::Found {
                config: Box::new(ConnectorConfig::new("x")),
                stored: Default::default(),
            };
            h.w.welcome.lab = LabStatus::Off;
            h.w.welcome.home = Some(eas_connector::wizard::effects::Home {
                running: false,
                status: Some(Default::default()),
                devices: Some(eas_connector::engine::listing::Tally {
                    allowed: 3,
                    blocked: 2,
                    quarantined: 1,
                    other: 1,
                    conflicts: 2,
                }),
                ..Default::default()
            });
            h.w.welcome.sync_note = Some(Err(
                eas_connector::wizard::effects::SyncRequestError::Refused("x".into()),
            ));
            for removed in [
                Ok(Removed {
                    service: Some("eas@x".into()),
                    folder: Some("/c/x".into()),
                    passwords: secrets::Purged {
                        from_vault: vec![SecretKind::ServiceAccount],
                        file: None,
                        vault_skipped: Some("D-Bus?".into()),
                    },
                }),
                Err(RemoveError::Service(ServiceError::NotElevated {
                    action: "x",
                })),
                Err(RemoveError::Service(ServiceError::Unavailable("?".into()))),
                Err(RemoveError::Secrets("EACCES".into())),
                Err(RemoveError::Folder("EBUSY".into())),
            ] {
                h.w.welcome.removed = Some(removed);
                collect(&h, &mut shown);
            }
            h.w.confirm_remove = Some(Removal {
                org: "x".into(),
                service: Some("eas@x".into()),
                folder: Some(eas_connector::config::purge::OrgFolder {
                    org: "x".into(),
                    dir: "/c/x".into(),
                    entries: vec!["Logs".into()],
                }),
                vault: Some("Secret Service"),
            });
            collect(&h, &mut shown);
            h.w.confirm_remove = None;
            h.w.welcome.removed = None;
            h.w.welcome.home = None;
            h.w.welcome.sync_note = None;
            h.w.welcome.existing = Existing::None;
        }
        // The Kerberos realm note, for an account and a server that give no realm.
        h.w.step = Step::ServiceAccount;
        h.w.form = eas_connector::wizard::form::Form {
            cas: "10.0.0.5".into(),
            service_user: "CONTOSO\\svc-eas".into(),
            ..Default::default()
        };
        collect(&h, &mut shown);
        assert!(
            shown.iter().any(|(_, t)| t.contains("10.0.0.5")),
            "the realm note is on the page"
        );
        for (step, text) in &shown {
            if text.starts_with("eas-connector ") {
                continue; // a command, the same in every language
            }
            for en in &catalog {
                if lang.t(en) == *en || en.len() < 8 {
                    continue; // the same word in both languages (e.g. "Proxy")
                }
                let longest = en.split("{}").max_by_key(|p| p.len()).unwrap_or(en);
                assert!(
                    longest.len() < 12 || !longest.trim().contains(' ') || !text.contains(longest),
                    "{lang:?} {step:?} shows English {en:?} in {text:?}"
                );
            }
            let padded = format!(" {text} ");
            for w in english {
                assert!(
                    !padded.contains(w),
                    "{lang:?} {step:?} shows English ({w:?}): {text:?}"
                );
            }
        }
    }
}

/// Every text with its bounds, and the bounds of the containers that say a text's face
/// (`wizard::ui::bold` and `mono`).
#[derive(Default)]
struct Texts {
    texts: Vec<(String, iced::Rectangle)>,
    bold: Vec<iced::Rectangle>,
    mono: Vec<iced::Rectangle>,
}

struct TextBounds(Arc<Mutex<Texts>>);

impl iced_test::Selector for TextBounds {
    type Output = ();

    fn select(&mut self, candidate: selector::Candidate<'_>) -> Option<()> {
        let mut seen = self.0.lock().unwrap();
        match candidate {
            selector::Candidate::Text {
                content, bounds, ..
            } => seen.texts.push((content.to_string(), bounds)),
            selector::Candidate::Container {
                id: Some(id),
                bounds,
                ..
            } => {
                let debug = format!("{id:?}");
                if debug.contains(wizard::ui::BOLD_ID) {
                    seen.bold.push(bounds);
                } else if debug.contains(wizard::ui::MONO_ID) {
                    seen.mono.push(bounds);
                }
            }
            _ => {}
        }
        None
    }

    fn description(&self) -> String {
        "every text and its bounds".into()
    }
}

/// The width `content` needs on one line at `size` in `font` (the wizard's own: the window
/// and the Simulator lay out with it).
fn text_width(content: &str, size: f32, font: iced::Font) -> f32 {
    use iced::advanced::text::{self, Paragraph as _};
    let p = <iced::Renderer as text::Renderer>::Paragraph::with_text(text::Text {
        content,
        bounds: iced::Size::INFINITE,
        size: iced::Pixels(size),
        line_height: text::LineHeight::default(),
        font,
        align_x: text::Alignment::Default,
        align_y: iced::alignment::Vertical::Top,
        shaping: text::Shaping::Advanced,
        wrapping: text::Wrapping::None,
    });
    p.min_width()
}

/// The labels that do not fit their widget in `ui` (`size` is the window), measured with the
/// wizard's fonts: [`wizard::ui::FONT`], its bold for the texts `ui::bold` marks, and
/// [`wizard::ui::MONO`] for those `ui::mono` marks (the window and the Simulator lay out with
/// the same). Each text's size and line count are read from its height (line height 1.3): a
/// one-line text must fit its width, a wrapped one its longest word, and nothing may reach
/// past the window's right edge.
fn overflows(ui: &mut Simulator<'_, Message>, size: (f32, f32)) -> Vec<String> {
    use wizard::ui::{BOLD, FONT, MONO};
    const SIZES: [f32; 9] = [13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 20.0, 24.0, 12.0];
    let seen = Arc::new(Mutex::new(Texts::default()));
    let _ = ui.find(TextBounds(seen.clone()));
    let seen = seen.lock().unwrap();
    let same = |a: &iced::Rectangle, b: &iced::Rectangle| {
        (a.x - b.x).abs() < 0.5
            && (a.y - b.y).abs() < 0.5
            && (a.width - b.width).abs() < 0.5
            && (a.height - b.height).abs() < 0.5
    };
    let mut out = Vec::new();
    for (content, b) in seen.texts.iter() {
        if content.trim().is_empty() || b.height < 1.0 {
            continue;
        }
        let (face, font) = if seen.bold.iter().any(|c| same(c, b)) {
            ("bold", BOLD)
        } else if seen.mono.iter().any(|c| same(c, b)) {
            ("mono", MONO)
        } else {
            ("regular", FONT)
        };
        let best = SIZES
            .iter()
            .flat_map(|s| (1..=40).map(move |n| (*s, n)))
            .min_by(|x, y| {
                let dx = (x.1 as f32 * 1.3 * x.0 - b.height).abs();
                let dy = (y.1 as f32 * 1.3 * y.0 - b.height).abs();
                dx.partial_cmp(&dy).unwrap()
            })
            .unwrap();
        let (s, n) = best;
        let need = if n == 1 {
            text_width(content, s, font)
        } else {
            // Lines break at spaces and after hyphens; paths and URLs at their separators
            // too (ui::kv): each part must fit.
            content
                .split(|c: char| c.is_whitespace() || c == '/' || c == '\\')
                .flat_map(|w| w.split_inclusive('-'))
                .map(|w| text_width(w, s, font))
                .fold(0.0, f32::max)
        };
        if need > b.width + 1.0 {
            out.push(format!(
                "{content:?} needs {need:.0} px at {s} px {face} but has {:.0} ({n} line(s))",
                b.width
            ));
        }
        if b.x + b.width > size.0 + 0.5 {
            out.push(format!(
                "{content:?} reaches past the window ({:.0} > {})",
                b.x + b.width,
                size.0
            ));
        }
    }
    assert!(
        !seen.bold.is_empty(),
        "the selector sees the bold texts' containers"
    );
    out
}

/// Welcome as the status home of a configured connector: its service, devices, conflicts,
/// a refused sync and a removal that failed; with `ask`, the Remove question over it.
fn status_home(w: &mut Wizard, ask: bool) {
    use eas_connector::setup::remove::{Removal, RemoveError};
    w.welcome.existing = Existing::Found {
        config: Box::new(ConnectorConfig::new("contoso")),
        stored: Default::default(),
    };
    let at: jiff::Timestamp = "2026-12-05T10:00:00Z".parse().unwrap();
    let record = eas_connector::service::status::SyncRecord {
        kind: eas_connector::engine::SyncKind::Quick,
        started_at: at,
        finished_at: at,
        duration_ms: 812,
        devices: 1234,
        server: "cas01.contoso.com".into(),
        failed_over_from: vec![],
        conflicts: 2,
        intune: None,
    };
    w.welcome.home = Some(eas_connector::wizard::effects::Home {
        running: true,
        status: Some(eas_connector::service::status::Status {
            last_quick_sync: Some(record.clone()),
            last_full_sync: Some(record),
            last_error: Some(eas_connector::service::status::ErrorRecord {
                at,
                kind: None,
                message: "cas01.contoso.com did not answer within 20 s".into(),
            }),
            next_quick_sync: Some(at),
            ..Default::default()
        }),
        devices: Some(eas_connector::engine::listing::Tally {
            allowed: 1200,
            blocked: 30,
            quarantined: 4,
            other: 0,
            conflicts: 2,
        }),
        ..Default::default()
    });
    w.welcome.removed = Some(Err(RemoveError::Service(ServiceError::NotElevated {
        action: "uninstall",
    })));
    w.confirm_remove = ask.then(|| Removal {
        org: "contoso".into(),
        service: Some("eas-connector@contoso.service".into()),
        folder: Some(eas_connector::config::purge::OrgFolder {
            org: "contoso".into(),
            dir: "/etc/eas-connector/contoso".into(),
            entries: vec![
                "ConnectorServiceConfiguration.xml".into(),
                "ConnectorServiceConfiguration.xml.bak".into(),
                "Devices.json".into(),
                "Logs".into(),
                "Status.json".into(),
            ],
        }),
        vault: Some("Secret Service"),
    });
}

/// Every page (and the cancel dialog) in every language at 1280×800 and 800×600, with
/// errors, failed checks and the Done page's lists: no label is clipped by its widget or
/// the window.
#[test]
fn no_label_overflows_at_800x600_or_1280x800_in_any_language() {
    let mut problems = Vec::new();
    for lang in [Lang::En, Lang::Nl, Lang::Fr] {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::new(dir.path(), "default", lang, None);
        h.send(Message::Next);
        h.w.form = eas_connector::wizard::form::Form {
            cas: "cas01".into(),
            show_advanced: true,
            proxy_enabled: true,
            proxy_use_credentials: true,
            show_kerberos: true,
            parallel: true,
            quick_sync: "2".into(),
            intune: true,
            cloud_cert: Some(Err(Arc::new(eas_connector::cloud::ImportError::NotRsa {
                path: dir.path().join("eas-connector-app-certificate.pfx"),
            }))),
            ..Default::default()
        };
        h.w.compliance.result = Some(Ok(eas_connector::probe::Outcome {
            status: Status::Failed,
            finding: Box::new(Finding::Error {
                text: "AADSTS7000215: Invalid client secret provided.".into(),
            }),
            fix: Some(Box::new(Fix::Cloud(
                eas_connector::probe::finding::CloudFix::Consent,
            ))),
            sign_in: None,
        }));
        h.w.connect.report = Some(report(&[CheckId::Tcp, CheckId::Ews]));
        for c in &h.w.connect.report.clone().unwrap().checks {
            h.w.connect.results.insert(c.id, c.clone());
        }
        h.w.apply.outcome = Some(Ok(eas_connector::wizard::effects::Outcome {
            config_path: dir.path().join("ConnectorServiceConfiguration.xml"),
            secret_store: String::new(),
            backend: Some(secrets::Backend::File(dir.path().join("secrets.json"))),
            service: None,
        }));
        for size in [(1280.0, 800.0), (800.0, 600.0)] {
            for step in Step::ALL {
                h.w.step = step;
                // Welcome also as the status home, with the cancel and the Remove question.
                let variants: &[&str] = if step == Step::Welcome {
                    &["page", "cancel", "home", "remove"]
                } else {
                    &["page"]
                };
                for &variant in variants {
                    h.w.confirm_cancel = variant == "cancel";
                    if matches!(variant, "home" | "remove") {
                        status_home(&mut h.w, variant == "remove");
                    }
                    for o in overflows(&mut h.ui_at(size), size) {
                        problems.push(format!("{lang:?} {size:?} {step:?} {variant}: {o}"));
                    }
                    h.w.confirm_remove = None;
                    h.w.welcome.home = None;
                    h.w.welcome.existing = Existing::None;
                }
                h.w.confirm_cancel = false;
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // On a wide screen the page keeps its maximum width.
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.send(Message::Next);
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Server);
    let cas = h.ui_at((1920.0, 1080.0)).find(selector::id("cas")).unwrap();
    assert!(
        cas.bounds().width <= wizard::MAX_PAGE_WIDTH,
        "{:?}",
        cas.bounds()
    );
}

#[test]
fn lab_demo_fills_every_page_and_validates_against_the_lab() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.click_text("Try it with the built-in lab Exchange");
    assert_eq!(h.w.welcome.mode, Some(Mode::Lab), "{:?}", h.w.welcome.lab);
    assert_eq!(h.w.step, Step::ServerType);
    assert_eq!(h.w.loc.org(), wizard::LAB_ORG);
    let lab = h.w.lab.clone().unwrap();
    let info = lab.0.info();
    assert_eq!(h.w.form.cas, info.servers[0].address);
    assert!(h.w.form.server_ok() && h.w.form.service_ok() && h.w.form.notification_ok());
    for _ in 0..5 {
        h.next();
    }
    assert_eq!(h.w.step, Step::Options);
    h.next();
    assert_eq!(h.w.step, Step::Compliance);
    // The lab's cloud: Intune, signing in with the PFX the lab issued (read on the spot),
    // and Test runs check 14 against the lab's Entra ID and Graph for real.
    assert!(
        h.w.form.intune,
        "the lab's cloud fills in the Compliance source page"
    );
    assert!(
        h.shown_containing("thumbprint").is_some(),
        "the certificate was read"
    );
    h.click_id("cloud-test");
    match &h.w.compliance.result {
        Some(Ok(o)) => assert_eq!(o.status, eas_connector::probe::Status::Passed, "{o:?}"),
        other => panic!("Test: {other:?}"),
    }
    assert!(h
        .shown_containing("signed in to Entra ID; ")
        .is_some_and(|t| t.contains("managed devices on the first page")));
    h.next(); // runs the 14 checks against the lab for real
    assert_eq!(h.w.step, Step::Connect);
    assert!(!h.w.connect.running);
    let report = h.w.connect.report.clone().expect("a report");
    assert_eq!(
        report.get(CheckId::Intune).map(|c| c.status),
        Some(Status::Passed),
        "check 14 against the lab's cloud"
    );
    for id in [CheckId::Config, CheckId::Dns, CheckId::Tcp, CheckId::Tls] {
        assert_eq!(
            report.get(id).unwrap().status,
            Status::Passed,
            "{id:?}: {}",
            report.to_text()
        );
    }
    assert!(report.ok, "{}", report.to_text());
    h.next();
    assert!(h.sees("Write configuration only, no service: the lab lives inside this wizard and stops when it closes, so no service is registered for it."));
    h.next();
    assert!(h.w.apply.succeeded(), "{:?}", h.w.apply.outcome);
    h.next();
    assert_eq!(h.w.step, Step::Done);
    let lab_loc = ConfigLocation::new(Some(dir.path()), wizard::LAB_ORG).unwrap();
    let file = ConfigFile::load(&lab_loc).unwrap();
    assert_eq!(
        file.config.client_access_server.to_string(),
        info.servers[0].address
    );
    assert_eq!(
        stored(&lab_loc, SecretKind::ServiceAccount).as_deref(),
        Some(info.accounts.service.password.as_str())
    );
    // Done says the lab dies with the wizard, and how to run one for this organization.
    assert!(h
        .shown_containing("--org lab lab")
        .is_some_and(|c| c.starts_with("eas-connector --config-dir")));
    assert!(h
        .shown_containing("The lab runs inside this wizard: it stops when the wizard closes")
        .is_some());
    // The lab's folder (its CA, its passwords) is owner-only, and gone with the wizard.
    let folder = lab.folder().to_path_buf();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", folder.display());
    }
    drop(h);
    drop(lab);
    assert!(!folder.exists(), "{} left behind", folder.display());
}

/// A new setup, from the Welcome page to the Service account page, with `cas` typed on the
/// Server page.
fn to_service_account(h: &mut Harness, cas: &str) {
    h.click_text("Set up new");
    h.next();
    h.click_id("type-onprem");
    h.next();
    h.type_into("cas", cas);
    h.next();
    assert_eq!(h.w.step, Step::Proxy);
    h.next();
    assert_eq!(h.w.step, Step::ServiceAccount);
}

#[test]
fn server_page_takes_microsofts_default_url_and_refuses_other_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.click_text("Set up new");
    h.next();
    h.click_id("type-onprem");
    h.next();
    assert_eq!(h.w.step, Step::Server);
    let help = "host[:port], e.g. cas01.contoso.com, connects over HTTPS. An Exchange with Microsoft's default settings is reached at http://<fqdn>/PowerShell/: sign-in with Kerberos, every message encrypted.";
    assert!(
        h.sees(help),
        "the help says what http:// and host[:port] mean"
    );
    h.type_into("cas", "http://cas01.contoso.com/PowerShell/");
    assert_eq!(h.w.form.cas, "http://cas01.contoso.com/PowerShell/");
    assert_eq!(h.w.form.error(&fields::CLIENT_ACCESS_SERVER), None);
    assert!(h.sees(help), "no error in its place");
    assert!(h.w.can_continue());
    h.type_into("cas", "ftp://cas01.contoso.com/PowerShell/");
    let expected = fields::CLIENT_ACCESS_SERVER
        .set(
            &mut ConnectorConfig::new("default"),
            "ftp://cas01.contoso.com/PowerShell/",
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        h.w.form.error(&fields::CLIENT_ACCESS_SERVER).as_deref(),
        Some(expected.as_str()),
        "the error is the configuration's own"
    );
    assert!(h.sees(&expected), "and it is shown under the field");
    assert!(!h.sees(help));
    assert!(!h.w.can_continue());
    // The hint in the other languages.
    for (lang, start) in [
        (
            Lang::Nl,
            "host[:poort], bv. cas01.contoso.com, verbindt via HTTPS.",
        ),
        (
            Lang::Fr,
            "hôte[:port], p. ex. cas01.contoso.com, se connecte en HTTPS.",
        ),
    ] {
        h.w.lang = lang;
        h.type_into("cas", "https://cas01.contoso.com/PowerShell/");
        let hint = lang.t(help);
        assert!(hint.starts_with(start), "{hint}");
        assert!(h.sees(hint), "{lang:?}");
    }
    // Written as typed.
    h.w.lang = Lang::En;
    h.type_into("cas", "http://cas01.contoso.com/PowerShell/");
    assert!(h.w.form.fields().contains(&(
        &fields::CLIENT_ACCESS_SERVER,
        "http://cas01.contoso.com/PowerShell/".into()
    )));
}

#[test]
fn service_account_page_shows_the_kerberos_realm_and_where_it_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    to_service_account(&mut h, "cas01.corp.contoso.com");
    h.type_into("service-user", "svc-eas@corp.contoso.com");
    assert!(h.sees("Kerberos realm: CORP.CONTOSO.COM (from the account's UPN suffix)"));
    h.type_into("service-user", "CONTOSO\\svc");
    assert!(h.sees("Kerberos realm: CORP.CONTOSO.COM (from the Exchange server's DNS domain)"));
    assert!(!h.sees("Kerberos realm: CORP.CONTOSO.COM (from the account's UPN suffix)"));
    h.w.lang = Lang::Nl;
    assert!(h.sees("Kerberos-realm: CORP.CONTOSO.COM (uit het DNS-domein van de Exchange-server)"));
    h.w.lang = Lang::Fr;
    assert!(
        h.sees("Domaine Kerberos : CORP.CONTOSO.COM (d’après le domaine DNS du serveur Exchange)")
    );
    h.w.lang = Lang::En;
    // A server given by its address has no DNS domain: no realm, and why.
    h.click_text("Back");
    h.click_text("Back");
    assert_eq!(h.w.step, Step::Server);
    h.type_into("cas", "http://10.0.0.5/PowerShell/");
    h.next();
    h.next();
    assert_eq!(h.w.step, Step::ServiceAccount);
    let why = names::client_principal("CONTOSO\\svc", None, "10.0.0.5")
        .unwrap_err()
        .to_string();
    assert!(why.contains("NetBIOS") && why.contains("10.0.0.5"), "{why}");
    let shown = format!("Kerberos realm: not found — {why}. To use Kerberos, enter the realm under the advanced settings.");
    assert!(h.sees(&shown), "{shown}");
    h.type_into("service-password", "Svc-Pa55!");
    assert!(
        h.w.can_continue(),
        "a missing realm does not block Next: NTLM may still sign in"
    );
    // The realm typed under Advanced is used, and says so.
    h.click_id("kerberos-advanced");
    h.type_into("kerberos-realm", "corp.contoso.com");
    assert!(h.sees("Kerberos realm: CORP.CONTOSO.COM (from Kerberos/Realm)"));
    assert!(!h.sees(&shown));
    // Nothing while the account is empty or wrong (its own error says why).
    h.type_into("service-user", "");
    assert!(h.w.form.kerberos_realm().is_none());
    assert!(!h.sees("Kerberos realm: CORP.CONTOSO.COM (from Kerberos/Realm)"));
}

#[test]
fn advanced_kerberos_settings_are_validated_and_written_to_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "contoso", Lang::En, None);
    to_service_account(&mut h, "http://cas01.corp.contoso.com/PowerShell/");
    h.type_into("service-user", "CONTOSO\\svc-eas");
    h.type_into("service-password", "Svc-Pa55!");
    // Collapsed by default; Tab visits the account and the password only.
    assert!(h.ui().find(selector::id("kerberos-realm")).is_err());
    assert_eq!(h.box_order(), ["service-user", "service-password"]);
    h.click_id("kerberos-advanced");
    assert!(h.w.form.show_kerberos);
    assert_eq!(
        h.box_order(),
        [
            "service-user",
            "service-password",
            "kerberos-realm",
            "kerberos-kdc",
            "kerberos-spn"
        ],
        "Tab reaches the new fields, in the order they are shown"
    );
    // A bad value shows the configuration's own error and blocks Next.
    h.type_into("kerberos-spn", "mail.contoso.com");
    let expected = fields::KERBEROS_SPN
        .set(&mut ConnectorConfig::new("default"), "mail.contoso.com")
        .unwrap_err()
        .to_string();
    assert!(expected.contains("HTTP/"), "{expected}");
    assert_eq!(
        h.w.form.error(&fields::KERBEROS_SPN).as_deref(),
        Some(expected.as_str())
    );
    assert!(h.sees(&expected));
    assert!(!h.w.can_continue());
    // It cannot be hidden while it is wrong (Alt+A or the check box).
    h.send(Message::Shortcut('a'));
    h.click_id("kerberos-advanced");
    assert!(h.ui().find(selector::id("kerberos-spn")).is_ok());
    assert!(h.sees(&expected));
    h.type_into("kerberos-kdc", "dc1.corp.contoso.com:0");
    let kdc_err = h.w.form.error(&fields::KERBEROS_KDC_ADDRESS).unwrap();
    assert!(h.sees(&kdc_err));
    // Good values.
    h.type_into("kerberos-realm", "corp.contoso.com");
    h.type_into(
        "kerberos-kdc",
        "dc1.corp.contoso.com, dc2.corp.contoso.com:88",
    );
    h.type_into("kerberos-spn", "HTTP/mail.contoso.com");
    assert!(h.w.can_continue());
    assert!(h.sees("Kerberos realm: CORP.CONTOSO.COM (from Kerberos/Realm)"));
    h.next();
    h.type_into("notify-user", "eas-notify@corp.contoso.com");
    h.type_into("notify-mailbox", "eas-notify@contoso.com");
    h.type_into("notify-password", "Notify-Pa55!");
    h.next();
    assert_eq!(h.w.step, Step::Options);
    connect_passes(&mut h);
    assert!(h.sees("realm\u{a0}CORP.CONTOSO.COM · KDC\u{a0}dc1.corp.contoso.com, dc2.corp.contoso.com:88 · SPN\u{a0}HTTP/mail.contoso.com"));
    h.next();
    assert!(h.w.apply.succeeded(), "{:?}", h.w.apply.outcome);
    let loc = ConfigLocation::new(Some(dir.path()), "contoso").unwrap();
    let c = ConfigFile::load(&loc).unwrap().config;
    assert_eq!(
        c.client_access_server.to_string(),
        "http://cas01.corp.contoso.com/PowerShell/"
    );
    assert_eq!(c.kerberos.realm.as_deref(), Some("CORP.CONTOSO.COM"));
    assert_eq!(
        c.kerberos.kdc_address.as_deref(),
        Some("dc1.corp.contoso.com, dc2.corp.contoso.com:88")
    );
    assert_eq!(
        c.kerberos.service_principal_name.as_deref(),
        Some("HTTP/mail.contoso.com")
    );
    // Reconfigure shows them again, opened.
    let mut again = Harness::new(dir.path(), "contoso", Lang::En, None);
    again.click_text("Reconfigure");
    assert!(again.w.form.show_kerberos);
    assert_eq!(again.w.form.kerberos_realm, "CORP.CONTOSO.COM");
    assert_eq!(again.w.form.kerberos_spn, "HTTP/mail.contoso.com");
}

#[test]
fn connect_page_says_which_mechanism_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.click_text("Set up new");
    h.next();
    fill_new(&mut h);
    let with = |detail: &str| {
        let mut r = report(&[]);
        for c in &mut r.checks {
            if c.id == CheckId::ServiceAccount {
                c.detail = detail.to_string();
                *c.finding = Finding::Error {
                    text: detail.to_string(),
                };
                let ntlm = detail.contains("NTLM");
                c.sign_in = Some(eas_connector::probe::SignIn {
                    mechanism: if ntlm {
                        eas_connector::exchange::client::Mechanism::NegotiateNtlm
                    } else {
                        eas_connector::exchange::client::Mechanism::Kerberos
                    },
                    kerberos_not_used: ntlm.then(|| "no KDC answered".to_string()),
                });
            }
        }
        r
    };
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Compliance);
    h.send_only(Message::Next);
    assert_eq!(h.w.step, Step::Connect);
    assert!(
        !h.sees("Signed in with Kerberos"),
        "not before check 7 passed"
    );
    h.feed_checks(with("CONTOSO\\svc-eas signed in with Kerberos"));
    assert!(h.sees("Signed in with Kerberos"));
    assert!(!h.sees("Kerberos was not used; check 7 says why."));
    assert!(
        h.sees("CONTOSO\\svc-eas signed in with Kerberos"),
        "the detail stays in full"
    );
    h.w.lang = Lang::Nl;
    assert!(h.sees("Aangemeld met Kerberos"));
    h.w.lang = Lang::En;
    let ntlm = "CONTOSO\\svc-eas signed in with NTLM (Negotiate); Kerberos was not used: no KDC answered for CONTOSO.TEST (set Kerberos/KdcAddress)";
    h.send_only(Message::Connect(connect::Message::Retry));
    h.feed_checks(with(ntlm));
    assert!(h.sees("Signed in with NTLM (Negotiate)"));
    assert!(h.sees("Kerberos was not used; check 7 says why."));
    assert!(h.sees(ntlm));
    // A failed sign-in says nothing about a mechanism.
    h.send_only(Message::Connect(connect::Message::Retry));
    h.feed_checks(report(&[CheckId::ServiceAccount]));
    assert!(h.w.connect.signed_in_with().is_none());
    assert!(!h.sees("Signed in with NTLM (Negotiate)"));
}

/// A key press as the window delivers it (`text` is what the key types).
fn press(
    key: iced::keyboard::Key,
    modifiers: iced::keyboard::Modifiers,
    text: Option<&str>,
) -> iced::keyboard::Event {
    use iced::keyboard::{key, Event, Location};
    Event::KeyPressed {
        key: key.clone(),
        modified_key: key,
        physical_key: key::Physical::Unidentified(key::NativeCode::Unidentified),
        location: Location::Standard,
        modifiers,
        text: text.map(Into::into),
        repeat: false,
    }
}

/// Alt+`c` with the focus in text box `id`, through the Simulator as the window delivers it
/// (the key press carries the letter as text): the messages it produced are fed to the wizard
/// and returned.
fn alt_letter(h: &mut Harness, id: &'static str, c: char) -> Vec<Message> {
    use iced::keyboard::{Key, Modifiers};
    let mut ui = h.ui();
    ui.click(selector::id(id))
        .unwrap_or_else(|e| panic!("#{id} on {:?}: {e}", h.w.step));
    let s = c.to_string();
    ui.simulate([
        iced::Event::Keyboard(iced::keyboard::Event::ModifiersChanged(Modifiers::ALT)),
        iced::Event::Keyboard(press(
            Key::Character(s.as_str().into()),
            Modifiers::ALT,
            Some(&s),
        )),
    ]);
    let msgs: Vec<_> = ui.into_messages().collect();
    for m in msgs.clone() {
        h.send(m);
    }
    msgs
}

#[test]
fn alt_shortcuts_do_not_type_their_letter_into_the_focused_box() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    to_service_account(&mut h, "cas01.corp.contoso.com");
    h.type_into("service-user", "CONTOSO\\svc-eas");
    h.type_into("service-password", "Svc-Pa55!");
    let msgs = alt_letter(&mut h, "service-user", 'a');
    assert!(
        matches!(msgs.as_slice(), [Message::Shortcut('a')]),
        "only the shortcut, no typing: {msgs:?}"
    );
    assert_eq!(h.w.form.service_user, "CONTOSO\\svc-eas");
    assert!(h.w.form.show_kerberos, "Alt+A opened the advanced settings");
    alt_letter(&mut h, "service-password", 'a');
    assert_eq!(h.w.form.service_password.expose(), "Svc-Pa55!");
    assert!(!h.w.form.show_kerberos, "and closed them");
    // Typing an "a" is still typing.
    h.type_into("service-user", "CONTOSO\\svc-a");
    assert_eq!(h.w.form.service_user, "CONTOSO\\svc-a");
    alt_letter(&mut h, "service-user", 'n');
    assert_eq!(h.w.step, Step::Notification, "Alt+N went Next");
    assert_eq!(h.w.form.service_user, "CONTOSO\\svc-a", "without an 'n'");
    // AltGr (Ctrl+Alt on Windows) types characters such as \ and @; it is no shortcut.
    use iced::keyboard::{Key, Modifiers};
    let altgr = press(
        Key::Character("@".into()),
        Modifiers::ALT | Modifiers::CTRL,
        Some("@"),
    );
    assert!(wizard::keys::shortcut(&altgr).is_none());
}

/// Every text box of every input page, with every Alt+letter: the Simulator produces the
/// shortcut and nothing else, and no box's text changes (the issue's `cas01.contoso.comn`).
#[test]
fn no_alt_shortcut_ever_alters_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.send(Message::Next);
    let pages: [(Step, &[&'static str]); 6] = [
        (Step::Server, &["cas", "ews-url", "ca-file"]),
        (
            Step::Proxy,
            &["proxy-host", "proxy-port", "proxy-user", "proxy-password"],
        ),
        (
            Step::ServiceAccount,
            &[
                "service-user",
                "service-password",
                "kerberos-realm",
                "kerberos-kdc",
                "kerberos-spn",
            ],
        ),
        (
            Step::Notification,
            &["notify-user", "notify-mailbox", "notify-password"],
        ),
        (Step::Options, &["max-runspaces", "quick-sync", "full-sync"]),
        (
            Step::Compliance,
            &[
                "cloud-tenant",
                "cloud-app",
                "cloud-cert",
                "cloud-cert-password",
            ],
        ),
    ];
    for (step, ids) in pages {
        for id in ids.iter().copied() {
            // Every letter a page or the footer uses, and one nobody uses.
            for c in ['a', 'b', 'c', 'f', 'i', 'n', 'p', 'u', 'y', 'z'] {
                h.w.step = step;
                h.w.form = eas_connector::wizard::form::Form {
                    cas: "cas01.contoso.test".into(),
                    show_advanced: true,
                    ews_url: "https://cas01.contoso.test/EWS/Exchange.asmx".into(),
                    proxy_enabled: true,
                    proxy_host: "proxy.contoso.test".into(),
                    proxy_use_credentials: true,
                    proxy_user: "CONTOSO\\proxy".into(),
                    proxy_password: Secret::new("Proxy-Pa55"),
                    service_user: "CONTOSO\\svc-eas".into(),
                    service_password: Secret::new("Svc-Pa55"),
                    show_kerberos: true,
                    notify_user: "eas-notify@contoso.test".into(),
                    notify_mailbox: "eas-notify@contoso.test".into(),
                    notify_password: Secret::new("Notify-Pa55"),
                    parallel: true,
                    intune: true,
                    cloud_tenant: "contoso.onmicrosoft.com".into(),
                    cloud_app: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
                    cloud_cert_file: "/certs/app.pfx".into(),
                    cloud_cert_password: Secret::new("Pfx-Pa55"),
                    ..Default::default()
                };
                let before = format!("{:?}", h.w.form.fields());
                let before_cert = (
                    h.w.form.cloud_cert_file.clone(),
                    h.w.form.cloud_cert_password.expose().to_string(),
                );
                let before_pw: Vec<_> =
                    h.w.form
                        .typed_passwords()
                        .into_iter()
                        .map(|(k, s)| (k, s.expose().to_string()))
                        .collect();
                let mut ui = h.ui();
                ui.click(selector::id(id))
                    .unwrap_or_else(|e| panic!("#{id} on {step:?}: {e}"));
                use iced::keyboard::{Key, Modifiers};
                let s = c.to_string();
                ui.simulate([iced::Event::Keyboard(press(
                    Key::Character(s.as_str().into()),
                    Modifiers::ALT,
                    Some(&s),
                ))]);
                let msgs: Vec<_> = ui.into_messages().collect();
                assert!(
                    matches!(msgs.as_slice(), [Message::Shortcut(x)] if *x == c),
                    "{step:?} #{id} Alt+{c}: {msgs:?}"
                );
                // What the shortcut itself does may toggle a section, never a text.
                let toggles = h.w.form.clone();
                for m in msgs {
                    h.send_only(m);
                }
                let after = {
                    let mut f = h.w.form.clone();
                    f.show_advanced = toggles.show_advanced;
                    f.proxy_enabled = toggles.proxy_enabled;
                    f.proxy_use_credentials = toggles.proxy_use_credentials;
                    f.parallel = toggles.parallel;
                    f.cas_failover = toggles.cas_failover;
                    f.intune = toggles.intune;
                    format!("{:?}", f.fields())
                };
                assert_eq!(before, after, "{step:?} #{id} Alt+{c} changed a text");
                assert_eq!(
                    before_cert,
                    (
                        h.w.form.cloud_cert_file.clone(),
                        h.w.form.cloud_cert_password.expose().to_string()
                    ),
                    "{step:?} #{id} Alt+{c}"
                );
                let after_pw: Vec<_> =
                    h.w.form
                        .typed_passwords()
                        .into_iter()
                        .map(|(k, s)| (k, s.expose().to_string()))
                        .collect();
                if h.w.form.proxy_enabled && h.w.form.proxy_use_credentials {
                    assert_eq!(before_pw, after_pw, "{step:?} #{id} Alt+{c}");
                }
                h.w.confirm_cancel = false;
            }
        }
    }
}

/// Enter through the Simulator (the keyboard layer turns it into Next), its messages fed in.
fn press_enter(h: &mut Harness) {
    let mut ui = h.ui();
    ui.tap_key(iced::keyboard::key::Named::Enter);
    let msgs: Vec<_> = ui.into_messages().collect();
    for m in msgs {
        h.send(m);
    }
}

/// Next refused says why, at the field and in the footer, and puts the focus there; required
/// fields carry a mark; in the admin's language.
#[test]
fn next_refused_says_why_at_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    press_enter(&mut h);
    press_enter(&mut h);
    assert_eq!(h.w.step, Step::Server);
    assert!(h.sees("*"), "the address is marked required");
    assert!(
        !h.sees("Required: fill this in to go on."),
        "not before Next"
    );
    press_enter(&mut h);
    assert_eq!(h.w.step, Step::Server, "refused");
    assert!(h.sees("Required: fill this in to go on."));
    assert!(h.sees("Fill in “Client Access Server” to go on."));
    assert_eq!(focused(&mut h.ui()).as_deref(), Some("cas"));
    h.type_into("cas", "cas01");
    press_enter(&mut h);
    assert!(h
        .shown_containing("Correct “Client Access Server”: 'cas01' is not fully qualified")
        .is_some());
    h.type_into("cas", "cas01.contoso.test");
    press_enter(&mut h);
    assert_eq!(h.w.step, Step::Proxy);
    assert!(
        !h.sees("Required: fill this in to go on."),
        "a new page starts clean"
    );
    press_enter(&mut h);
    h.w.lang = Lang::Fr;
    h.type_into("service-user", "CONTOSO\\svc-eas");
    press_enter(&mut h);
    assert_eq!(h.w.step, Step::ServiceAccount);
    let why = format!("Remplissez « {} » pour continuer.", Lang::Fr.t("Password"));
    assert!(h.sees(&why), "{why}");
    assert!(h.sees(Lang::Fr.t("Required: fill this in to go on.")));
    assert_eq!(focused(&mut h.ui()).as_deref(), Some("service-password"));
}

/// An existing connector opens on its status home: the service's state, last syncs and last
/// error as `eas-connector status` reads them (the status file when the service is not
/// running), Sync now (disabled without a running service), then Reconfigure / Replace.
#[test]
fn status_home_for_an_existing_connector() {
    use eas_connector::service::status::{self, ErrorRecord, RunState, SyncRecord};
    let dir = tempfile::tempdir().unwrap();
    let loc = existing(dir.path(), "contoso");
    let at: jiff::Timestamp = "2026-12-05T10:00:00Z".parse().unwrap();
    let st = status::Status {
        format: status::STATUS_FORMAT,
        organization: "contoso".into(),
        state: RunState::Stopped,
        last_quick_sync: Some(SyncRecord {
            kind: eas_connector::engine::SyncKind::Quick,
            started_at: at,
            finished_at: at,
            duration_ms: 812,
            devices: 37,
            server: "cas01.contoso.test".into(),
            failed_over_from: vec![],
            conflicts: 0,
            intune: None,
        }),
        last_error: Some(ErrorRecord {
            at,
            kind: None,
            message: "cas01.contoso.test did not answer".into(),
        }),
        ..Default::default()
    };
    st.write(&status::status_path(&loc)).unwrap();
    let h = Harness::new(dir.path(), "contoso", Lang::En, None);
    assert!(h.sees("Service status"));
    assert!(h.sees("not running"));
    assert!(h
        .shown_containing("37 devices from cas01.contoso.test in 812 ms")
        .is_some());
    assert!(h
        .shown_containing("cas01.contoso.test did not answer")
        .is_some());
    assert!(h.sees("none yet"), "no full sync yet");
    assert!(
        h.sees("Sync now needs the running service: start it with `eas-connector service start`.")
    );
    // Sync now is disabled without the service; Reconfigure and Replace follow.
    let msgs = {
        let mut ui = h.ui();
        let _ = ui.click("Sync now (quick)");
        ui.into_messages().collect::<Vec<_>>()
    };
    assert!(msgs.is_empty(), "{msgs:?}");
    assert!(h.sees("Reconfigure"));
    assert!(h.sees("Replace existing connector"));
}

/// A service manager with the organization's service installed (and stopped).
#[derive(Default)]
struct Installed {
    calls: Mutex<Vec<String>>,
}

impl ServiceManager for Installed {
    fn describe(&self) -> String {
        "test service manager".into()
    }
    fn service_name(&self, org: &str) -> String {
        format!("eas-connector@{org}")
    }
    fn install(&self, org: &str, _spec: &InstallSpec) -> Result<(), ServiceError> {
        self.calls.lock().unwrap().push(format!("install {org}"));
        Ok(())
    }
    fn uninstall(&self, org: &str) -> Result<(), ServiceError> {
        self.calls.lock().unwrap().push(format!("uninstall {org}"));
        Ok(())
    }
    fn start(&self, _org: &str) -> Result<(), ServiceError> {
        Ok(())
    }
    fn stop(&self, _org: &str) -> Result<(), ServiceError> {
        Ok(())
    }
    fn state(&self, _org: &str) -> Result<ServiceState, ServiceError> {
        let removed = self
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with("uninstall"));
        Ok(if removed {
            ServiceState::NotInstalled
        } else {
            ServiceState::Stopped
        })
    }
    fn installed(&self) -> Result<Vec<String>, ServiceError> {
        Ok(vec![])
    }
}

/// The status home counts the devices of the last sync by Exchange's state (the list
/// `eas-connector devices` reads) and the conflicts with Exchange's rules, says what to do
/// about them, and Remove asks first (Enter keeps the connector), says what goes and what
/// stays, then removes the service, the passwords and the folder.
#[test]
fn status_home_counts_devices_and_conflicts_and_remove_asks_first() {
    use eas_connector::engine::listing::{DeviceList, DeviceRow};
    use eas_connector::engine::policy::Action;
    use eas_connector::engine::precedence::{Conflict, Resolution};
    use eas_connector::wire::exchange::{DeviceAccessState as S, DeviceAccessStateReason as R};
    let dir = tempfile::tempdir().unwrap();
    let loc = existing(dir.path(), "contoso");
    let row = |id: &str, state: S, conflict: bool| DeviceRow {
        device_id: id.into(),
        name: format!("u_{id}"),
        user: "u@contoso.test".into(),
        mailbox: "contoso.test/Users/u".into(),
        device_type: "iPhone".into(),
        device_model: "iPhone".into(),
        exchange_state: state,
        exchange_reason: if conflict {
            R::DeviceRule
        } else {
            R::Individual
        },
        action: Action::Allow,
        source: "rules".into(),
        reason: "r".into(),
        outcome: eas_connector::engine::plan::Outcome::Unchanged,
        synced_at: "2026-12-05T10:00:00Z".into(),
        sync: eas_connector::engine::SyncKind::Full,
        conflict: conflict.then(|| Conflict {
            wanted: Action::Allow,
            exchange: Action::Block,
            reason: R::DeviceRule,
            rule: Some("Block Androids".into()),
            resolution: Resolution::Reported,
        }),
    };
    let rows = [
        row("a1", S::Allowed, false),
        row("a2", S::Allowed, false),
        row("a3", S::Allowed, false),
        row("b1", S::Blocked, true),
        row("b2", S::Blocked, true),
        row("q1", S::Quarantined, false),
        row("d1", S::DeviceDiscovery, false),
    ];
    let list = DeviceList {
        synced_at: Some("2026-12-05T10:00:00Z".into()),
        devices: rows
            .iter()
            .map(|r| (r.device_id.clone(), r.clone()))
            .collect(),
    };
    std::fs::write(
        DeviceList::path(&loc.org_dir()),
        serde_json::to_vec(&list).unwrap(),
    )
    .unwrap();
    let manager = Arc::new(Installed::default());
    let mut h = Harness::new(dir.path(), "contoso", Lang::En, Some(manager.clone()));
    assert!(h.sees("Devices (Exchange's state)"));
    assert!(
        h.sees("3 allowed · 2 blocked · 1 quarantined · 1 other"),
        "counts"
    );
    assert!(h.sees("Conflicts"));
    assert!(
        h.shown_containing("2 devices: an Exchange device access rule decides otherwise")
            .is_some_and(|t| t.contains("eas-connector devices")),
        "the conflicts and what to do"
    );
    // Remove asks first; Enter keeps the connector.
    h.click_text("Remove this connector…");
    let plan = h.w.confirm_remove.clone().expect("Remove asks first");
    assert_eq!(plan.service.as_deref(), Some("eas-connector@contoso"));
    assert!(h.sees("Remove the connector of “contoso”?"));
    assert!(h
        .shown_containing("the service eas-connector@contoso, stopped and unregistered")
        .is_some());
    assert!(h
        .shown_containing("ConnectorServiceConfiguration.xml")
        .is_some_and(|t| t.starts_with("• the folder ")));
    assert!(h.shown_containing("Kept: Exchange as it is").is_some());
    assert_eq!(
        h.w.focus.target,
        Some("keep-connector"),
        "the focus is on Keep"
    );
    h.send(Message::Enter);
    assert!(h.w.confirm_remove.is_none(), "Enter closed the question");
    assert!(loc.org_dir().exists(), "Enter removed nothing");
    assert!(manager.calls.lock().unwrap().is_empty());
    // Asked again and confirmed: service, passwords and folder go.
    h.click_text("Remove this connector…");
    h.click_id("confirm-remove");
    assert_eq!(
        manager.calls.lock().unwrap().as_slice(),
        ["uninstall contoso"]
    );
    assert!(!loc.org_dir().exists(), "the folder is gone");
    assert!(
        stored(&loc, SecretKind::ServiceAccount).is_none(),
        "passwords gone"
    );
    let said = h
        .shown_containing("The connector was removed (service eas-connector@contoso; folder ")
        .expect("Remove says what it did");
    assert!(said.contains("Exchange was not changed."), "{said}");
    assert!(matches!(h.w.welcome.existing, Existing::None));
    assert!(h.sees("Set up new"), "a new setup is offered");
}

/// The id of the focused widget in a fresh view (what the window shows after the last
/// message), if any.
fn focused(ui: &mut Simulator<'_, Message>) -> Option<String> {
    ui.find(selector::is_focused()).ok().map(|t| {
        let debug = format!("{t:?}");
        debug.split('"').nth(1).unwrap_or(&debug).to_string()
    })
}

/// Each page opens with its first text box focused, by id, whatever was focused on the page
/// before (the Notification page used to open on its password box); fields that appear take
/// the focus; Tab past the last control wraps to the first and Shift+Tab back.
#[test]
fn focus_on_entry_of_every_page_and_tab_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    assert_eq!(focused(&mut h.ui()), None, "Welcome has no text box");
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::ServerType);
    h.send(Message::Next);
    assert_eq!(focused(&mut h.ui()).as_deref(), Some("cas"));
    h.type_into("cas", "cas01.contoso.test");
    h.click_id("advanced");
    assert_eq!(
        focused(&mut h.ui()).as_deref(),
        Some("ews-url"),
        "fields appeared"
    );
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Proxy);
    assert_eq!(focused(&mut h.ui()), None, "no proxy: nothing to type");
    h.click_id("proxy-enabled");
    assert_eq!(focused(&mut h.ui()).as_deref(), Some("proxy-host"));
    h.click_id("proxy-enabled");
    h.send(Message::Next);
    assert_eq!(focused(&mut h.ui()).as_deref(), Some("service-user"));
    h.type_into("service-user", "CONTOSO\\svc-eas");
    h.type_into("service-password", "Svc-Pa55!");
    // The password box was focused last on this page: the next page still starts at its top.
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Notification);
    assert_eq!(focused(&mut h.ui()).as_deref(), Some("notify-user"));
    // Tab walks every focusable widget and wraps around, both ways: text boxes, check boxes,
    // choices, buttons and the step list.
    let order = h.focus_order();
    for id in [
        "step-1",
        "step-6",
        "notify-user",
        "notify-password",
        "back",
        "next",
        "cancel",
    ] {
        assert!(order.iter().any(|o| o == id), "{id} not in {order:?}");
    }
    let at = order.iter().position(|o| o == "notify-user").unwrap();
    let n = order.len();
    let mut ui = h.ui();
    for k in 1..=n + 1 {
        ui.tap_key(iced::keyboard::key::Named::Tab);
        assert_eq!(
            focused(&mut ui).as_deref(),
            Some(order[(at + k) % n].as_str())
        );
    }
    let shift_tab = |ui: &mut Simulator<'_, Message>| {
        use iced::keyboard::{key::Named, Key, Modifiers};
        ui.simulate([iced::Event::Keyboard(press(
            Key::Named(Named::Tab),
            Modifiers::SHIFT,
            None,
        ))]);
    };
    shift_tab(&mut ui);
    shift_tab(&mut ui);
    assert_eq!(
        focused(&mut ui).as_deref(),
        Some(order[(at + n - 1) % n].as_str()),
        "Shift+Tab wraps back"
    );
    drop(ui);
    h.type_into("notify-user", "eas-notify@contoso.test");
    h.type_into("notify-mailbox", "eas-notify@contoso.test");
    h.type_into("notify-password", "Notify-Pa55!");
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Options);
    assert_eq!(
        focused(&mut h.ui()).as_deref(),
        h.w.first_field(),
        "Options opens on its first box"
    );
    let first_box = h.box_order().first().cloned();
    assert_eq!(first_box.as_deref(), h.w.first_field());
}

/// Buttons, check boxes and choices take the keyboard focus (iced cannot focus them): Tab
/// reaches them, Space or Enter presses them, and the focused one is drawn with a ring.
#[test]
fn tab_reaches_every_control_and_space_presses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    let order = h.focus_order();
    for id in ["step-1", "choice-new", "try-lab", "next", "cancel"] {
        assert!(
            order.iter().any(|o| o == id),
            "Welcome: {id} not in {order:?}"
        );
    }
    h.send(Message::Next);
    h.send(Message::Next);
    h.type_into("cas", "cas01.contoso.test");
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Proxy);
    // Tab from nothing to the proxy check box, Space ticks it.
    let order = h.focus_order();
    let at = order.iter().position(|o| o == "proxy-enabled").unwrap();
    let mut ui = h.ui();
    for _ in 0..=at {
        ui.tap_key(iced::keyboard::key::Named::Tab);
    }
    assert_eq!(focused(&mut ui).as_deref(), Some("proxy-enabled"));
    ui.tap_key(iced::keyboard::key::Named::Space);
    let msgs: Vec<_> = ui.into_messages().collect();
    for m in msgs {
        h.send(m);
    }
    assert!(h.w.form.proxy_enabled, "Space ticked the check box");
    // Enter on a focused Back is Back, not Next (Tab from the proxy host, focused as it
    // appeared, until Back).
    let n = h.focus_order().len();
    let mut ui = h.ui();
    assert_eq!(focused(&mut ui).as_deref(), Some("proxy-host"));
    for _ in 0..n {
        if focused(&mut ui).as_deref() == Some("back") {
            break;
        }
        ui.tap_key(iced::keyboard::key::Named::Tab);
    }
    assert_eq!(focused(&mut ui).as_deref(), Some("back"));
    ui.tap_key(iced::keyboard::key::Named::Enter);
    let msgs: Vec<_> = ui.into_messages().collect();
    assert!(matches!(msgs.as_slice(), [Message::Back]), "{msgs:?}");
    for m in msgs {
        h.send(m);
    }
    assert_eq!(h.w.step, Step::Server);
}

/// The Connect page with the real checks (nothing fed) against the exchange-default lab, whose
/// /PowerShell takes Kerberos only, and a real MIT KDC (tests/support/kdc.rs): signed in with
/// Kerberos; the KDC stopped; a wrong password — each as validation reports it, with its fix.
/// Skipped like the other Kerberos tests when the KDC is not installed and `EAS_TEST_PEERS`
/// is not 1.
#[test]
fn connect_page_shows_real_kerberos_outcomes_against_a_real_kdc() {
    use eas_connector::lab::{AuthProfile, Lab, LabOptions};
    use support::kdc::{RealmSpec, TestRealm};

    let Some(mut realm) = TestRealm::start(&RealmSpec {
        realm: "WIZARD.TEST",
        users: &[],
        services: &["HTTP/localhost"],
        max_life_secs: None,
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The lab in this process on its own runtime, as a default Exchange with the realm's
    // keytab; its accounts become users of the realm.
    let lab_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lab = lab_rt
        .block_on(Lab::start(LabOptions {
            devices: 20,
            state_dir: dir.path().join("lab"),
            auth_profile: AuthProfile::ExchangeDefault,
            keytab: Some(realm.keytab.clone()),
            realm: Some(realm.realm.clone()),
            kdc: Some(realm.kdc_address()),
            ..LabOptions::default()
        }))
        .unwrap();
    let info = lab.info().clone();
    let (svc, notify) = (&info.accounts.service, &info.accounts.notification);
    for a in [svc, notify] {
        realm.ensure_user(a.user.rsplit('\\').next().unwrap(), &a.password);
    }

    // A connector for the lab in the configuration and the vault; the wizard reconfigures it.
    init_env();
    let root = dir.path().join("cfg");
    let loc = ConfigLocation::new(Some(&root), "default").unwrap();
    let cas = format!("{}/PowerShell/", info.servers[0].http_url.as_ref().unwrap());
    let kdc = realm.kdc_address();
    let fields = [
        ("ClientAccessServer", cas.as_str()),
        ("TrustedCaFile", info.ca_file.to_str().unwrap()),
        ("ServiceAccount/User", svc.user.as_str()),
        ("NotificationAccount/User", notify.user.as_str()),
        (
            "NotificationAccount/Mailbox",
            notify.mailbox.as_deref().unwrap(),
        ),
        ("Kerberos/Realm", realm.realm.as_str()),
        ("Kerberos/KdcAddress", kdc.as_str()),
    ];
    let plan = Plan {
        fields: fields
            .iter()
            .map(|(k, v)| (fields::find(k).unwrap(), v.to_string()))
            .collect(),
        passwords: vec![
            (SecretKind::ServiceAccount, Secret::new(&svc.password)),
            (
                SecretKind::NotificationAccount,
                Secret::new(&notify.password),
            ),
        ],
        cloud_certificate: None,
        replace: false,
        register_service: false,
        skip_validation: true,
        service_exe: "eas-connector".into(),
    };
    lab_rt
        .block_on(setup::apply(&loc, &plan, None, |_| {}))
        .unwrap();

    let mut h = Harness::new(&root, "default", Lang::En, None);
    h.click_text("Reconfigure");
    assert_eq!(h.w.form.cas, cas);
    assert_eq!(h.w.form.kerberos_kdc, kdc);
    assert!(h.w.form.stored.service && h.w.form.stored.notification);
    let check7 = |h: &Harness| {
        assert!(!h.w.connect.running);
        let report = h.w.connect.report.clone().expect("the run finished");
        let c = h.w.connect.results[&CheckId::ServiceAccount].clone();
        (report, c)
    };

    // 1. All good: the 14 checks run for real on arrival; the service account signs in with
    // Kerberos, with a ticket the KDC issued.
    let tgts = realm.tgts_issued();
    h.click_text("9. Connect");
    assert_eq!(h.w.step, Step::Connect);
    let (report, c) = check7(&h);
    assert!(report.ok, "{}", report.to_text());
    assert_eq!(c.status, Status::Passed);
    assert!(c.detail.contains("signed in with Kerberos"), "{}", c.detail);
    assert!(h.sees(&c.detail), "check 7's detail is shown: {}", c.detail);
    assert!(h.sees("Signed in with Kerberos"));
    assert!(!h.sees("Kerberos was not used; check 7 says why."));
    assert!(h.sees(&format!(
        "All required checks passed in {} ms.",
        report.total_ms
    )));
    assert!(h.w.can_continue());
    assert!(realm.tgts_issued() > tgts, "{}", realm.log());

    // 2. The KDC stopped, Retry: check 7 fails naming the realm's KDC, with its fix.
    // (Retry runs in the same process: validation forgets cached tickets and an unreachable
    // realm first, so it reports the domain as it is now.)
    realm.stop();
    h.click_text("Retry");
    let (report, c) = check7(&h);
    assert!(!report.ok);
    assert_eq!(c.status, Status::Failed, "{}", report.to_text());
    let shown = h
        .shown_containing("no domain controller (KDC) for realm WIZARD.TEST")
        .unwrap_or_else(|| panic!("not on the page:\n{}", report.to_text()));
    assert_eq!(shown, c.detail, "the detail is shown in full");
    let fix = c.fix.clone().unwrap();
    assert!(fix.contains("Kerberos/KdcAddress"), "{fix}");
    // The wizard says it in its own words, and leads to the field.
    let wizard_fix = h
        .shown_containing("check the domain controllers (KDC) field, the DNS SRV record _kerberos._tcp.wizard.test, and that TCP port 88 to the domain controllers is open from this computer")
        .unwrap_or_else(|| panic!("the fix in wizard words:\n{}", report.to_text()));
    assert!(wizard_fix.starts_with("Fix: "), "{wizard_fix}");
    assert!(h.sees("Go to Service account › Domain controllers / KDC (optional)"));
    assert!(!h.sees("Signed in with Kerberos"));
    assert!(h.sees(
        "Some checks failed. Follow the fix under each, go Back to change a setting, then Retry."
    ));
    assert!(!h.w.can_continue());

    // 3. The KDC back, a wrong password in the vault, Retry: the domain refused it, tried once.
    realm.restart();
    secrets::open(&loc, Preference::File)
        .unwrap()
        .store
        .set(
            SecretKind::ServiceAccount,
            &Secret::new("Not-The-Password-1"),
        )
        .unwrap();
    let refusals = realm.log().matches("PREAUTH_FAILED").count();
    h.click_text("Retry");
    let (report, c) = check7(&h);
    assert_eq!(c.status, Status::Failed, "{}", report.to_text());
    let shown = h
        .shown_containing("refused the password")
        .unwrap_or_else(|| panic!("not on the page:\n{}", report.to_text()));
    assert_eq!(shown, c.detail);
    assert!(shown.contains("svc-eas@WIZARD.TEST"), "{shown}");
    let fix = c.fix.clone().unwrap();
    assert!(fix.contains("set-password"), "{fix}");
    assert!(h
        .shown_containing("retype the account's current password; the connector stops retrying so it does not lock the account out")
        .is_some_and(|f| f.starts_with("Fix: ")));
    assert!(h.sees("Go to Service account › Account"));
    assert!(!h.w.can_continue());
    assert!(!h.w.connect.report_text().contains("Not-The-Password-1"));
    assert_eq!(
        realm.log().matches("PREAUTH_FAILED").count() - refusals,
        1,
        "one try only:\n{}",
        realm.log()
    );
    drop(h);
    drop(lab);
}

/// Every control of every page (with every section open), of the status home and of both
/// dialogs is in the Tab order, in reading order after the step list; over a dialog Tab
/// reaches the dialog's buttons only, and wraps.
#[test]
fn tab_reaches_every_control_of_every_page_and_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let manager: Arc<dyn ServiceManager> = Arc::new(Installed::default());
    let mut h = Harness::new(dir.path(), "default", Lang::En, Some(manager));
    h.w.form = eas_connector::wizard::form::Form {
        cas: "cas01".into(),
        show_advanced: true,
        proxy_enabled: true,
        proxy_use_credentials: true,
        show_kerberos: true,
        parallel: true,
        intune: true,
        ..Default::default()
    };
    h.w.connect.report = Some(report(&[CheckId::Tcp]));
    for c in &h.w.connect.report.clone().unwrap().checks {
        h.w.connect.results.insert(c.id, c.clone());
    }
    let steps: Vec<String> = (1..=12).map(|n| format!("step-{n}")).collect();
    let expected: [(Step, &[&str]); 12] = [
        (Step::Welcome, &["choice-new", "try-lab"]),
        (Step::ServerType, &["type-onprem", "type-hosted"]),
        (
            Step::Server,
            &["cas", "advanced", "ews-url", "ca-file", "browse"],
        ),
        (
            Step::Proxy,
            &[
                "proxy-enabled",
                "proxy-host",
                "proxy-port",
                "proxy-credentials",
                "proxy-user",
                "proxy-password",
                "proxy-auth-auto",
                "proxy-auth-kerberos",
                "proxy-auth-negotiate",
                "proxy-auth-ntlm",
                "proxy-auth-basic",
            ],
        ),
        (
            Step::ServiceAccount,
            &[
                "service-user",
                "service-password",
                "auth-auto",
                "auth-kerberos",
                "auth-negotiate",
                "auth-ntlm",
                "auth-basic",
                "kerberos-advanced",
                "kerberos-realm",
                "kerberos-kdc",
                "kerberos-spn",
            ],
        ),
        (
            Step::Notification,
            &["notify-user", "notify-mailbox", "notify-password"],
        ),
        (
            Step::Options,
            &[
                "failover",
                "parallel",
                "max-runspaces",
                "quick-sync",
                "full-sync",
                "log-error",
                "log-warn",
                "log-info",
                "log-debug",
                "log-trace",
            ],
        ),
        (
            Step::Compliance,
            &[
                "source-policy",
                "source-intune",
                "cloud-tenant",
                "cloud-app",
                "cred-certificate",
                "cred-secret",
                "cloud-cert",
                "cloud-browse",
                "cloud-cert-password",
                "cloud-test",
            ],
        ),
        (
            Step::Connect,
            &["retry", "cancel-checks", "copy-report", "tcp"],
        ),
        (Step::Summary, &["register-service"]),
        (Step::Apply, &[]),
        (Step::Done, &["open-config", "open-logs", "open-policy"]),
    ];
    for (step, page) in expected {
        h.w.step = step;
        let footer: &[&str] = if step == Step::Done {
            &["next"]
        } else {
            &["back", "next", "cancel"]
        };
        let want: Vec<String> = steps
            .iter()
            .cloned()
            .chain(page.iter().chain(footer).map(|s| s.to_string()))
            .collect();
        assert_eq!(h.focus_order(), want, "{step:?}");
    }
    // The status home.
    h.w.step = Step::Welcome;
    status_home(&mut h.w, false);
    let home = h.focus_order();
    for id in [
        "sync-quick",
        "sync-full",
        "refresh",
        "remove",
        "choice-reconfigure",
        "choice-replace",
    ] {
        assert!(
            home.iter().any(|o| o == id),
            "status home: {id} in {home:?}"
        );
    }
    // Over a dialog, Tab goes round its buttons only.
    for (ask, ids) in [
        (true, ["keep-connector", "confirm-remove"]),
        (false, ["continue-setup", "cancel-setup"]),
    ] {
        status_home(&mut h.w, ask);
        h.w.confirm_cancel = !ask;
        let mut ui = h.ui();
        let mut seen = Vec::new();
        for _ in 0..5 {
            ui.tap_key(iced::keyboard::key::Named::Tab);
            seen.push(focused(&mut ui).unwrap_or_default());
        }
        assert_eq!(
            seen,
            [ids[0], ids[1], ids[0], ids[1], ids[0]],
            "Tab over the dialog"
        );
        drop(ui);
        h.w.confirm_cancel = false;
        h.w.confirm_remove = None;
    }
}

/// Browse… when no file dialog can open (no desktop portal): the field says so, gets the
/// focus, and the path typed there is taken (a PEM file), while a file that is not PEM is
/// refused at the field.
#[test]
fn file_picker_falls_back_to_a_typed_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.click_text("Set up new");
    h.next();
    h.click_id("type-onprem");
    h.next();
    assert_eq!(h.w.step, Step::Server);
    h.type_into("cas", "cas01.contoso.test");
    h.click_id("advanced");
    // The click asks for the dialog; its answer is fed here (no portal in a test).
    let msgs = {
        let mut ui = h.ui();
        ui.click(selector::id("browse")).unwrap();
        ui.into_messages().collect::<Vec<_>>()
    };
    assert!(!msgs.is_empty(), "Browse… does something");
    for m in msgs {
        h.send_only(m);
    }
    h.send(Message::CaFilePicked(
        eas_connector::wizard::effects::Picked::Unavailable,
    ));
    assert!(h.sees(
        "No file dialog can open on this computer (no desktop portal): type the file's full path in the box."
    ));
    assert_eq!(h.w.focus.target, Some("ca-file"));
    let pem = dir.path().join("ca.pem");
    let ca = rcgen::generate_simple_self_signed(vec!["ca.contoso.test".into()]).unwrap();
    std::fs::write(&pem, ca.cert.pem()).unwrap();
    h.type_into("ca-file", &pem.display().to_string());
    assert_eq!(h.w.form.ca_file, pem.display().to_string());
    assert!(h.w.can_continue(), "a PEM file is taken");
    let der = dir.path().join("ca.cer");
    std::fs::write(&der, [0x30u8, 0x82, 0x01]).unwrap();
    h.type_into("ca-file", &der.display().to_string());
    assert!(!h.w.can_continue(), "a file that is not PEM is refused");
    let (id, why) = h.w.why_not().expect("Next is refused");
    assert_eq!(id, Some("ca-file"));
    assert!(why.contains("holds no PEM certificate"), "{why}");
}

/// Done offers the access policy: without one yet, it says that syncs stop until there is
/// one and gives the exact command that writes the example there.
#[test]
fn done_offers_the_access_policy() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "contoso", Lang::En, None);
    h.w.step = Step::Done;
    h.click_id("open-policy");
    let policy = ConfigLocation::new(Some(dir.path()), "contoso")
        .unwrap()
        .file(eas_connector::config::OrgFile::Policy);
    let note = h
        .shown_containing("There is no access policy yet")
        .expect("the note");
    assert!(
        note.contains(&format!(
            "--org contoso policy example > \"{}\"",
            policy.display()
        )),
        "{note}"
    );
    assert!(note.contains("eas-connector --config-dir"), "{note}");
}

/// The Compliance source page: the policy file alone needs nothing; Intune needs tenant,
/// application and a credential, and Next refused says which; a PEM certificate with its key
/// is read on the spot (thumbprint shown), a file without a key is refused at the field; the
/// client secret is the other way; Summary says which source and credential; the plan carries
/// the certificate and the secret to the password store, never to the configuration.
#[test]
fn compliance_source_page_takes_intune_with_a_certificate_or_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path(), "default", Lang::En, None);
    h.w.step = Step::Compliance;
    assert!(h.w.can_continue(), "the policy file alone");
    h.click_id("source-intune");
    assert!(h.w.form.intune);
    assert_eq!(
        h.w.focus.target,
        Some("cloud-tenant"),
        "the fields that appeared"
    );
    h.send(Message::Next);
    assert_eq!(h.w.step, Step::Compliance, "refused");
    let (id, why) = h.w.why_not().unwrap();
    assert_eq!(id, Some("cloud-tenant"));
    assert_eq!(why, "Fill in “Directory (tenant) ID” to go on.");
    h.type_into("cloud-tenant", "contoso.onmicrosoft.com");
    h.type_into("cloud-app", "6731de76-14a6-49ae-97bc-6eba6914391e");
    let (id, why) = h.w.why_not().unwrap();
    assert_eq!(id, Some("cloud-cert"));
    assert_eq!(why, "Fill in “Certificate file” to go on.");
    // A certificate without its key is refused at the field.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256);
    let (cert_pem, key_pem) = match key {
        Ok(key) => {
            let cert = rcgen::CertificateParams::new(vec!["eas-connector".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        }
        // rcgen cannot make RSA keys with this backend: the test takes the lab's.
        Err(_) => {
            let lab =
                h.rt.block_on(eas_connector::wizard::effects::start_lab())
                    .unwrap();
            let c = lab.0.info().cloud.clone().expect("the lab's cloud");
            (
                std::fs::read_to_string(&c.certificate_file).unwrap(),
                std::fs::read_to_string(&c.private_key_file).unwrap(),
            )
        }
    };
    let only_cert = dir.path().join("only-cert.pem");
    std::fs::write(&only_cert, &cert_pem).unwrap();
    h.type_into("cloud-cert", &only_cert.display().to_string());
    assert!(!h.w.can_continue());
    assert!(h
        .shown_containing("holds no private key")
        .is_some_and(|t| t.starts_with(&only_cert.display().to_string())));
    let both = dir.path().join("app.pem");
    std::fs::write(&both, format!("{cert_pem}\n{key_pem}")).unwrap();
    h.type_into("cloud-cert", &both.display().to_string());
    assert!(h.w.can_continue(), "{:?}", h.w.why_not());
    let thumbprint = h.w.form.cloud_certificate().unwrap().thumbprint;
    assert!(h
        .shown_containing(&format!("thumbprint {thumbprint}"))
        .is_some());
    let plan = h.w.form.plan(false, false);
    assert!(
        plan.cloud_certificate.is_some(),
        "the certificate goes with the plan"
    );
    assert!(plan
        .fields
        .iter()
        .any(|(f, v)| *f == &fields::CLOUD_CREDENTIAL && v == "Certificate"));
    h.w.step = Step::Summary;
    assert!(h
        .shown_containing("Intune and the access policy file: tenant contoso.onmicrosoft.com")
        .is_some_and(|t| t.contains(&format!("certificate {thumbprint}"))));
    // The client secret instead.
    h.w.step = Step::Compliance;
    h.click_id("cred-secret");
    assert!(!h.w.can_continue());
    assert_eq!(h.w.why_not().unwrap().0, Some("cloud-secret"));
    h.type_into("cloud-secret", "s3cr3t~Value");
    assert!(h.w.can_continue());
    let plan = h.w.form.plan(false, false);
    assert!(plan.cloud_certificate.is_none());
    assert!(plan
        .passwords
        .iter()
        .any(|(k, s)| *k == SecretKind::CloudClientSecret && s.expose() == "s3cr3t~Value"));
    assert!(
        plan.fields.iter().all(|(_, v)| !v.contains("s3cr3t")),
        "the secret is not in the configuration"
    );
    // Back to the policy file only: no Intune source is written.
    h.click_id("source-policy");
    let plan = h.w.form.plan(false, false);
    assert!(plan
        .fields
        .iter()
        .any(|(f, v)| *f == &fields::CLOUD_TENANT_ID && v.is_empty()));
    assert!(plan.passwords.is_empty() && plan.cloud_certificate.is_none());
}
