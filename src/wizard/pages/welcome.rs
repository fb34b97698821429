//! Page 1, Welcome: says what the wizard does, detects an existing connector for the
//! organization and offers Set up new, Reconfigure, Replace, or a trial against the built-in
//! lab Exchange. It never changes anything on disk.

use iced::widget::{button, column, row, text};
use iced::{Element, Length};

use super::super::effects::{Existing, Home};
use super::super::i18n::Lang;
use super::super::ui;
use crate::engine::SyncKind;
use crate::setup::remove::{RemoveError, Removed};

/// How this run treats the organization's existing connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No connector yet: start from defaults.
    New,
    /// Change the existing connector; fields and stored passwords are pre-filled.
    Reconfigure,
    /// Start from a fresh configuration over the existing one.
    Replace,
    /// A demonstration against the in-process lab Exchange.
    Lab,
}

/// The lab's state, as the Welcome page shows it.
#[derive(Debug, Clone, Default)]
pub enum LabStatus {
    #[default]
    Off,
    Starting,
    Running(String),
    Failed(crate::wizard::effects::LabStartError),
}

/// What the Welcome page shows.
#[derive(Debug, Clone)]
pub struct State {
    pub org: String,
    pub existing: Existing,
    pub mode: Option<Mode>,
    pub lab: LabStatus,
    /// An existing connector's service status (the status home), once read.
    pub home: Option<Home>,
    /// The answer to the last "Sync now".
    pub sync_note: Option<Result<SyncKind, crate::wizard::effects::SyncRequestError>>,
    /// What the last Remove did (or why it did not).
    pub removed: Option<Result<Removed, RemoveError>>,
}

/// Input to the Welcome page.
#[derive(Debug, Clone)]
pub enum Message {
    /// The admin chose how to treat the existing connector.
    Choose(Mode),
    /// Ask the running service for a sync now.
    SyncNow(SyncKind),
    /// Read the status again.
    Refresh,
    /// The admin asked to try the wizard against the built-in lab.
    TryLab,
    /// Remove this organization's connector (asks first).
    Remove,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Pre-fill the form for this mode.
    Chosen(Mode),
    /// Send the service a sync request.
    SyncNow(SyncKind),
    /// Read the service's status again.
    Refresh,
    /// Start the lab in-process.
    StartLab,
    /// Find out what removing would delete, then ask.
    PlanRemoval,
}

impl State {
    pub fn update(&mut self, msg: Message) -> Option<Event> {
        match msg {
            Message::Choose(m) => {
                let allowed = match (&self.existing, m) {
                    (Existing::Checking, _) | (_, Mode::Lab) => false,
                    (Existing::None, Mode::New) => true,
                    (Existing::Found { .. }, Mode::Reconfigure | Mode::Replace) => true,
                    (Existing::Unreadable(_), Mode::Replace) => true,
                    _ => false,
                };
                if !allowed {
                    return None;
                }
                self.mode = Some(m);
                Some(Event::Chosen(m))
            }
            Message::SyncNow(kind) => Some(Event::SyncNow(kind)),
            Message::Refresh => Some(Event::Refresh),
            Message::Remove => Some(Event::PlanRemoval),
            Message::TryLab => {
                if matches!(self.lab, LabStatus::Starting) {
                    return None;
                }
                self.lab = LabStatus::Starting;
                Some(Event::StartLab)
            }
        }
    }

    /// Keyboard shortcuts (Alt+letter).
    pub fn shortcut(&self, c: char) -> Option<Message> {
        match c {
            's' => Some(Message::Choose(Mode::New)),
            'r' => Some(Message::Choose(Mode::Reconfigure)),
            'e' => Some(Message::Choose(Mode::Replace)),
            't' => Some(Message::TryLab),
            _ => None,
        }
    }

    pub fn can_continue(&self) -> bool {
        self.mode.is_some() && !matches!(self.lab, LabStatus::Starting)
    }

    pub fn view(&self, l: Lang) -> Element<'_, Message> {
        let mut col = column![ui::para(l.t(
            "This wizard connects EAS Connector to your Exchange organization: it asks for the server, the accounts and the options, checks that everything works, then writes the configuration and registers the service."
        ))]
        .spacing(16);
        col = col.push(ui::kv(l.t("Organization"), self.org.clone()));
        match &self.removed {
            Some(Ok(r)) => {
                col = col.push(ui::note(
                    ui::NoteKind::Success,
                    super::super::words::removed(l, r),
                ))
            }
            Some(Err(e)) => {
                col = col.push(ui::note(
                    ui::NoteKind::Error,
                    super::super::words::remove_error(l, e),
                ))
            }
            None => {}
        }
        let choices: Vec<(Mode, &str, &str, &'static str)> = match &self.existing {
            Existing::Checking => {
                col = col.push(ui::para(l.t("Looking for an existing connector…")));
                vec![]
            }
            Existing::None => {
                col = col.push(ui::note(
                    ui::NoteKind::Info,
                    l.t("No connector is configured for this organization yet."),
                ));
                vec![(
                    Mode::New,
                    l.t("Set up new"),
                    l.t("Configure a new connector for this organization."),
                    "Alt+S",
                )]
            }
            Existing::Found { config, .. } => {
                let server = config
                    .server_address()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                col = col.push(ui::note(
                    ui::NoteKind::Info,
                    l.f(
                        "A connector is already configured for this organization (server {}).",
                        &[&server],
                    ),
                ));
                vec![
                    (
                        Mode::Reconfigure,
                        l.t("Reconfigure"),
                        l.t("Change some settings; everything else and the stored passwords are kept."),
                        "Alt+R",
                    ),
                    (
                        Mode::Replace,
                        l.t("Replace existing connector"),
                        l.t("Start again from defaults; the current file is kept as a .bak backup."),
                        "Alt+E",
                    ),
                ]
            }
            Existing::Unreadable(e) => {
                col = col.push(ui::note(
                    ui::NoteKind::Error,
                    super::super::words::unreadable(l, e),
                ));
                vec![(
                    Mode::Replace,
                    l.t("Replace existing connector"),
                    l.t("Start again from defaults; the current file is kept as a .bak backup."),
                    "Alt+E",
                )]
            }
        };
        if let (Existing::Found { .. }, Some(home)) = (&self.existing, &self.home) {
            col = col.push(self.home_view(home, l));
        }
        for (mode, title, about, key) in choices {
            let selected = self.mode == Some(mode);
            let card = button(
                column![
                    row![
                        text(if selected { "◉" } else { "○" }).size(18),
                        ui::bold(text(title).size(17)),
                        iced::widget::Space::new().width(Length::Fill),
                        text(key).size(ui::SMALL).style(ui::muted),
                    ]
                    .spacing(10)
                    .align_y(iced::Center),
                    text(about).size(ui::SMALL),
                ]
                .spacing(4),
            )
            .padding([10, 14])
            .width(Length::Fill)
            .style(ui::card(selected))
            .on_press(Message::Choose(mode));
            let id = match mode {
                Mode::New => "choice-new",
                Mode::Reconfigure => "choice-reconfigure",
                Mode::Replace => "choice-replace",
                Mode::Lab => "choice-lab",
            };
            col = col.push(super::super::focus::focusable(
                id,
                card,
                Some(Message::Choose(mode)),
            ));
        }
        let lab_line: Element<'_, Message> = match &self.lab {
            LabStatus::Off => text(l.t(
                "No Exchange at hand? The built-in lab simulates one on this computer (loopback only) and fills in every page; it writes to the organization “lab”.",
            ))
            .size(ui::SMALL)
            .style(ui::muted)
            .into(),
            LabStatus::Starting => text(l.t("Starting the lab Exchange…")).size(ui::SMALL).into(),
            LabStatus::Running(s) => ui::note(ui::NoteKind::Success, s.clone()),
            LabStatus::Failed(e) => ui::note(
                ui::NoteKind::Error,
                super::super::words::lab_start_error(l, e),
            ),
        };
        let lab_button = button(
            row![
                text(l.t("Try it with the built-in lab Exchange")).size(ui::BODY),
                text("Alt+T").size(ui::SMALL),
            ]
            .spacing(10)
            .align_y(iced::Center),
        )
        .padding([8, 14])
        .style(ui::plain_button)
        .on_press_maybe((!matches!(self.lab, LabStatus::Starting)).then_some(Message::TryLab));
        let lab_button = super::super::focus::focusable(
            "try-lab",
            lab_button,
            (!matches!(self.lab, LabStatus::Starting)).then_some(Message::TryLab),
        );
        col = col.push(iced::widget::rule::horizontal(1));
        col = col.push(column![lab_button, lab_line].spacing(8));
        col.into()
    }
}

impl State {
    /// The status home: what `eas-connector status` says about the service, and Sync now.
    fn home_view<'a>(&self, home: &'a Home, l: Lang) -> Element<'a, Message> {
        use super::super::focus::focusable;
        let mut col = column![ui::bold(text(l.t("Service status")).size(17))].spacing(6);
        let when = |t: &jiff::Timestamp| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        };
        let state = match (&home.status, home.running) {
            (Some(s), true) => l.t(match s.state.as_str() {
                "starting" => "running (starting)",
                "syncing" => "running (syncing now)",
                "stopping" => "stopping",
                _ => "running (waiting for the next sync)",
            }),
            (_, true) => l.t("running"),
            (_, false) => l.t("not running"),
        };
        col = col.push(ui::kv(l.t("Service"), state));
        if let Some(s) = &home.status {
            let sync = |r: &Option<crate::service::status::SyncRecord>| match r {
                Some(r) => l.f(
                    "{}: {} devices from {} in {} ms",
                    &[
                        &when(&r.finished_at),
                        &r.devices.to_string(),
                        &r.server,
                        &r.duration_ms.to_string(),
                    ],
                ),
                None => l.t("none yet").to_string(),
            };
            col = col.push(ui::kv(l.t("Last quick sync"), sync(&s.last_quick_sync)));
            col = col.push(ui::kv(l.t("Last full sync"), sync(&s.last_full_sync)));
            col = col.push(ui::kv(
                l.t("Last error"),
                match &s.last_error {
                    Some(e) => format!("{}: {}", when(&e.at), e.message),
                    None => l.t("none").to_string(),
                },
            ));
            if let Some(next) = &s.next_quick_sync {
                col = col.push(ui::kv(l.t("Next quick sync"), when(next)));
            }
            if let Some(p) = &s.paused {
                col = col.push(ui::note(ui::NoteKind::Warning, p.clone()));
            }
        } else if !home.running {
            col = col.push(ui::para(l.t(
                "The service has not run yet for this organization (no status file).",
            )));
        }
        if let Some(e) = &home.error {
            col = col.push(text(e.clone()).size(ui::SMALL).style(ui::muted));
        }
        match &home.devices {
            Some(t) => {
                col = col.push(ui::kv(
                    l.t("Devices (Exchange's state)"),
                    l.f(
                        "{} allowed · {} blocked · {} quarantined · {} other",
                        &[
                            &t.allowed.to_string(),
                            &t.blocked.to_string(),
                            &t.quarantined.to_string(),
                            &t.other.to_string(),
                        ],
                    ),
                ));
                col = col.push(ui::kv(
                    l.t("Conflicts"),
                    if t.conflicts == 0 {
                        l.t("none").to_string()
                    } else {
                        t.conflicts.to_string()
                    },
                ));
                if t.conflicts > 0 {
                    col = col.push(ui::note(
                        ui::NoteKind::Warning,
                        l.f(
                            "{} devices: an Exchange device access rule decides otherwise than the access policy, and Exchange's rule wins. See which with `eas-connector devices` (column CONFLICT), then change the rule in Exchange, or the policy.",
                            &[&t.conflicts.to_string()],
                        ),
                    ));
                }
            }
            None => {
                col = col.push(ui::kv(
                    l.t("Devices (Exchange's state)"),
                    l.t("no list yet: no sync has finished").to_string(),
                ));
            }
        }
        if let Some(e) = &home.devices_error {
            col = col.push(text(e.clone()).size(ui::SMALL).style(ui::muted));
        }
        let quick = home.running.then_some(Message::SyncNow(SyncKind::Quick));
        let full = home.running.then_some(Message::SyncNow(SyncKind::Full));
        col = col.push(
            row![
                focusable(
                    "sync-quick",
                    button(text(l.t("Sync now (quick)")).size(ui::BODY))
                        .padding([6, 14])
                        .style(ui::plain_button)
                        .on_press_maybe(quick.clone()),
                    quick,
                ),
                focusable(
                    "sync-full",
                    button(text(l.t("Full sync now")).size(ui::BODY))
                        .padding([6, 14])
                        .style(ui::plain_button)
                        .on_press_maybe(full.clone()),
                    full,
                ),
                focusable(
                    "refresh",
                    button(text(l.t("Refresh")).size(ui::BODY))
                        .padding([6, 14])
                        .style(ui::plain_button)
                        .on_press(Message::Refresh),
                    Some(Message::Refresh),
                ),
                focusable(
                    "remove",
                    button(text(l.t("Remove this connector…")).size(ui::BODY))
                        .padding([6, 14])
                        .style(button::danger)
                        .on_press(Message::Remove),
                    Some(Message::Remove),
                ),
            ]
            .spacing(8)
            .wrap(),
        );
        match &self.sync_note {
            Some(Ok(SyncKind::Quick)) => {
                col = col.push(ui::note(
                    ui::NoteKind::Success,
                    l.t("The service runs a quick sync now."),
                ))
            }
            Some(Ok(SyncKind::Full)) => {
                col = col.push(ui::note(
                    ui::NoteKind::Success,
                    l.t("The service runs a full sync now."),
                ))
            }
            Some(Err(e)) => {
                col = col.push(ui::note(
                    ui::NoteKind::Error,
                    super::super::words::sync_request_error(l, e),
                ))
            }
            None => {}
        }
        if !home.running {
            col = col.push(text(l.t("Sync now needs the running service: start it with `eas-connector service start`.")).size(ui::SMALL).style(ui::muted));
        }
        col.into()
    }
}
