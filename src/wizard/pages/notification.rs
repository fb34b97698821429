//! Page 6, Notification account: the account and mailbox that send users mail when their
//! device is held back. Only edits the form; a stored password is never shown.

use crate::config::fields;
use iced::widget::column;
use iced::Element;

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use crate::secrets::{Secret, SecretKind};

/// Input to the notification account page.
#[derive(Debug, Clone)]
pub enum Message {
    /// The account name changed.
    User(String),
    /// The mailbox address changed.
    Mailbox(String),
    /// The password changed.
    Password(Secret),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::User(v) => form.notify_user = v,
        Message::Mailbox(v) => form.notify_mailbox = v,
        Message::Password(v) => form.notify_password = v,
    }
    None
}

pub fn shortcut(_form: &Form, _c: char) -> Option<Message> {
    None
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    column![
        ui::para(l.t("Users get an email when their device is blocked or quarantined. Give the account that sends it, through Exchange Web Services.")),
        ui::required_field(
            l.t("Account"),
            ui::input("notify-user", "CONTOSO\\eas-notify", &form.notify_user, Message::User),
            form.error_in(l, &fields::NOTIFICATION_ACCOUNT_USER),
            l.t("DOMAIN\\user or user@contoso.com"),
        ),
        ui::required_field(
            l.t("Mailbox (sender address)"),
            ui::input("notify-mailbox", "eas-notify@contoso.com", &form.notify_mailbox, Message::Mailbox),
            form.error_in(l, &fields::NOTIFICATION_MAILBOX),
            "",
        ),
        ui::required_field(
            l.t("Password"),
            ui::password(
                "notify-password",
                if form.stored.notification { l.t("stored; leave empty to keep") } else { "" },
                form.notify_password.expose(),
                |s| Message::Password(Secret::new(s)),
            ),
            form.password_error(l, SecretKind::NotificationAccount),
            if form.stored.notification {
                l.t("A password is stored; type a new one only to change it.")
            } else {
                ""
            },
        ),
    ]
    .spacing(18)
    .into()
}
