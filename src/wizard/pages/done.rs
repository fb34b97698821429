//! Page 11, Done: where the configuration and passwords went, the service's state, the first
//! sync's status when known, and buttons to open the configuration and log folders.

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
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Open this folder in the file manager.
    Open(PathBuf),
}

/// What the Done page shows.
pub struct Context<'a> {
    pub outcome: Option<&'a Outcome>,
    pub config_dir: PathBuf,
    pub logs_dir: PathBuf,
    pub message: Option<&'a str>,
}

pub fn update(cx: &Context<'_>, msg: Message) -> Option<Event> {
    Some(match msg {
        Message::OpenConfig => Event::Open(cx.config_dir.clone()),
        Message::OpenLogs => Event::Open(cx.logs_dir.clone()),
    })
}

pub fn shortcut(c: char) -> Option<Message> {
    match c {
        'o' => Some(Message::OpenConfig),
        'l' => Some(Message::OpenLogs),
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
        col = col.push(ui::kv(l.t("Passwords"), o.secret_store.clone()));
        let (service, sync) = match &o.service {
            Some((name, state)) => (
                format!("{name}: {state}"),
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
    col = col.push(
        row![
            button(text(l.t("Open configuration folder")).size(ui::BODY))
                .padding([6, 14])
                .style(ui::plain_button)
                .on_press(Message::OpenConfig),
            button(text(l.t("Open log folder")).size(ui::BODY))
                .padding([6, 14])
                .style(ui::plain_button)
                .on_press(Message::OpenLogs),
            text("Alt+O · Alt+L").size(ui::SMALL).style(ui::muted),
        ]
        .spacing(8)
        .align_y(iced::Center),
    );
    if let Some(m) = cx.message {
        col = col.push(text(m).size(ui::SMALL).style(ui::muted));
    }
    col.into()
}
