//! Page 7, Options: CAS failover, parallel commands, and how often the connector syncs. Only
//! edits the form.

use crate::config::{fields, LogLevel};
use iced::widget::{column, row};
use iced::{Element, Length};

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;

/// Input to the options page.
#[derive(Debug, Clone)]
pub enum Message {
    /// Fail over between Client Access Servers or not.
    Failover(bool),
    /// Run commands in parallel runspaces or not.
    Parallel(bool),
    /// The number of parallel runspaces changed.
    MaxRunspaces(String),
    /// The quick-sync interval changed.
    QuickSync(String),
    /// The daily full-sync time changed.
    FullSync(String),
    /// `LogLevel` chosen.
    LogLevel(LogLevel),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::Failover(v) => form.cas_failover = v,
        Message::Parallel(v) => form.parallel = v,
        Message::MaxRunspaces(v) => form.max_runspaces = v,
        Message::QuickSync(v) => form.quick_sync = v,
        Message::FullSync(v) => form.full_sync = v,
        Message::LogLevel(v) => form.log_level = v,
    }
    None
}

pub fn shortcut(form: &Form, c: char) -> Option<Message> {
    match c {
        'f' => Some(Message::Failover(!form.cas_failover)),
        'p' => Some(Message::Parallel(!form.parallel)),
        _ => None,
    }
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    let mut col = column![
        ui::check(
            "failover",
            l.t("Fail over to other Client Access Servers when one does not answer"),
            "Alt+F",
            form.cas_failover,
            Message::Failover
        ),
        ui::check(
            "parallel",
            l.t("Run commands in parallel (faster for many devices)"),
            "Alt+P",
            form.parallel,
            Message::Parallel
        ),
    ]
    .spacing(18);
    if form.parallel {
        col = col.push(
            iced::widget::container(ui::field(
                l.t("Parallel runspaces"),
                ui::input(
                    "max-runspaces",
                    "4",
                    &form.max_runspaces,
                    Message::MaxRunspaces,
                ),
                form.error_in(l, &fields::MAX_PARALLEL_RUNSPACES),
                l.t("1 to 16"),
            ))
            .max_width(260),
        );
    }
    col = col.push(
        row![
            iced::widget::container(ui::field(
                l.t("Quick sync every (minutes)"),
                ui::input("quick-sync", "15", &form.quick_sync, Message::QuickSync),
                form.error_in(l, &fields::QUICK_SYNC_INTERVAL),
                l.t("5 to 1440"),
            ))
            .width(Length::Fill),
            iced::widget::container(ui::field(
                l.t("Full sync daily at"),
                ui::input("full-sync", "02:00", &form.full_sync, Message::FullSync),
                form.error_in(l, &fields::FULL_SYNC_TIME),
                l.t("HH:MM, 24-hour, local time"),
            ))
            .width(Length::Fill),
        ]
        .spacing(16),
    );
    let mut levels = row![].spacing(18);
    for (level, id, label) in [
        (LogLevel::Error, "log-error", l.t("errors")),
        (LogLevel::Warn, "log-warn", l.t("warnings")),
        (LogLevel::Info, "log-info", l.t("information (recommended)")),
        (LogLevel::Debug, "log-debug", l.t("debugging")),
        (LogLevel::Trace, "log-trace", l.t("everything (trace)")),
    ] {
        levels = levels.push(super::super::focus::focusable(
            id,
            iced::widget::container(
                iced::widget::radio(label, level, Some(form.log_level), Message::LogLevel)
                    .size(18)
                    .text_size(ui::BODY),
            )
            .id(id),
            Some(Message::LogLevel(level)),
        ));
    }
    col = col.push(ui::field(
        l.t("Log level"),
        levels.wrap(),
        None,
        l.t("What the service writes to its log folder; debugging and trace are for support."),
    ));
    col.into()
}
