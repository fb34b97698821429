//! Page 11, Done: where the configuration and passwords went, the service's state, the next
//! steps with the exact commands for this organization, and buttons to open the configuration
//! and log folders.

use std::path::PathBuf;

use iced::widget::{button, column, row, text};
use iced::Element;

use super::super::effects::Outcome;
use super::super::i18n::Lang;
use super::super::ui;

/// Input to the Done page.
#[derive(Debug, Clone)]
pub enum Message {
    /// Open the configuration folder.
    OpenConfig,
    /// Open the log folder.
    OpenLogs,
    /// Open the access policy file.
    OpenPolicy,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Open this folder (or file) with the desktop's program for it.
    Open(PathBuf),
    /// There is no access policy file yet at this path.
    NoPolicy(PathBuf),
}

/// What the Done page shows.
pub struct Context<'a> {
    pub outcome: Option<&'a Outcome>,
    pub config_dir: PathBuf,
    pub logs_dir: PathBuf,
    /// The organization's access policy file (which may not exist yet).
    pub policy: PathBuf,
    pub message: Option<&'a str>,
    /// `--config-dir DIR --org NAME` as the CLI needs them for this organization (empty for
    /// the default folder and organization).
    pub cli_args: String,
    /// The lab demonstration wrote this organization (its lab stops with the wizard).
    pub lab: bool,
}

/// The Done page's words for where the passwords are.
fn store_text(l: Lang, o: &Outcome) -> String {
    match &o.backend {
        Some(b) => super::super::words::backend(l, b),
        None => o.secret_store.clone(),
    }
}

/// The next steps: (what, exact command).
pub fn next_steps(cx: &Context<'_>, l: Lang) -> Vec<(String, String)> {
    let cmd = |rest: &str| {
        if cx.cli_args.is_empty() {
            format!("eas-connector {rest}")
        } else {
            format!("eas-connector {} {rest}", cx.cli_args)
        }
    };
    let mut steps = Vec::new();
    let service = cx.outcome.is_some_and(|o| o.service.is_some());
    if cx.lab {
        steps.push((
            l.t("The lab runs inside this wizard: it stops when the wizard closes, and this organization then points at nothing. Run a lab of your own for it:").to_string(),
            cmd("lab"),
        ));
    } else if !service {
        steps.push((
            l.t("Register and start the service (as administrator or root):")
                .to_string(),
            cmd("service install"),
        ));
    }
    steps.push((
        l.t("See the service's state, last syncs and last error:")
            .to_string(),
        cmd("status"),
    ));
    steps.push((
        l.t("Ask the service for a sync now:").to_string(),
        cmd("sync --quick"),
    ));
    steps.push((
        l.t("Preview the access decisions, changing nothing:")
            .to_string(),
        cmd("engine run --full --dry-run"),
    ));
    steps.push((
        l.t("Check the access policy file:").to_string(),
        cmd("policy check"),
    ));
    steps.push((
        l.t("Turn enforcement on when the preview is right:")
            .to_string(),
        cmd("enforce --confirm"),
    ));
    steps
}

pub fn update(cx: &Context<'_>, msg: Message) -> Option<Event> {
    Some(match msg {
        Message::OpenConfig => Event::Open(cx.config_dir.clone()),
        Message::OpenLogs => Event::Open(cx.logs_dir.clone()),
        Message::OpenPolicy if cx.policy.is_file() => Event::Open(cx.policy.clone()),
        Message::OpenPolicy => Event::NoPolicy(cx.policy.clone()),
    })
}

pub fn shortcut(c: char) -> Option<Message> {
    match c {
        'o' => Some(Message::OpenConfig),
        'l' => Some(Message::OpenLogs),
        'p' => Some(Message::OpenPolicy),
        _ => None,
    }
}

pub fn view<'a>(cx: Context<'a>, l: Lang) -> Element<'a, Message> {
    let mut col = column![ui::note(
        ui::NoteKind::Success,
        l.t("EAS Connector is configured.")
    )]
    .spacing(12);
    if let Some(o) = cx.outcome {
        col = col.push(ui::kv(
            l.t("Configuration file"),
            o.config_path.display().to_string(),
        ));
        col = col.push(ui::kv(l.t("Passwords"), store_text(l, o)));
        let (service, sync) = match &o.service {
            Some((name, state)) => (
                format!("{name}: {}", super::super::words::service_state(l, state)),
                l.t("The service runs its first sync now; see the log folder or `eas-connector status`.").to_string(),
            ),
            None => (
                l.t("not registered (configuration only)").to_string(),
                l.t("No sync runs until the service is registered and started.").to_string(),
            ),
        };
        col = col.push(ui::kv(l.t("Service"), service));
        col = col.push(ui::kv(l.t("First sync"), sync));
    }
    let mut steps = column![ui::bold(text(l.t("Next steps")).size(ui::BODY))].spacing(6);
    for (what, command) in next_steps(&cx, l) {
        steps = steps.push(
            column![
                text(what).size(ui::SMALL),
                ui::mono(text(command).size(ui::SMALL)),
            ]
            .spacing(2),
        );
    }
    col = col.push(steps);
    col = col.push(
        row![
            super::super::focus::focusable(
                "open-config",
                button(text(l.t("Open configuration folder")).size(ui::BODY))
                    .padding([6, 14])
                    .style(ui::plain_button)
                    .on_press(Message::OpenConfig),
                Some(Message::OpenConfig),
            ),
            super::super::focus::focusable(
                "open-logs",
                button(text(l.t("Open log folder")).size(ui::BODY))
                    .padding([6, 14])
                    .style(ui::plain_button)
                    .on_press(Message::OpenLogs),
                Some(Message::OpenLogs),
            ),
            super::super::focus::focusable(
                "open-policy",
                button(text(l.t("Open the access policy")).size(ui::BODY))
                    .padding([6, 14])
                    .style(ui::plain_button)
                    .on_press(Message::OpenPolicy),
                Some(Message::OpenPolicy),
            ),
            text("Alt+O · Alt+L · Alt+P")
                .size(ui::SMALL)
                .style(ui::muted),
        ]
        .spacing(8)
        .align_y(iced::Center)
        .wrap(),
    );
    if let Some(m) = cx.message {
        col = col.push(text(m).size(ui::SMALL).style(ui::muted));
    }
    col.into()
}
