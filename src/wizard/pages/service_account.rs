//! Page 5, Service account: the account the connector signs in to Exchange's remote
//! PowerShell with. Only edits the form; a stored password is never shown.

use iced::widget::column;
use iced::Element;

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use crate::secrets::Secret;

/// Input to the service account page.
#[derive(Debug, Clone)]
pub enum Message {
    /// The account name changed.
    User(String),
    /// The password changed.
    Password(Secret),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::User(v) => form.service_user = v,
        Message::Password(v) => form.service_password = v,
    }
    None
}

pub fn shortcut(_form: &Form, _c: char) -> Option<Message> {
    None
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    column![
        ui::para(l.t("The account the connector uses for Exchange remote PowerShell. It needs the Organization Management role, or a role with the Get-/Set-CASMailbox and ActiveSync device cmdlets.")),
        ui::field(
            l.t("Account"),
            ui::input("service-user", "CONTOSO\\svc-eas", &form.service_user, Message::User),
            form.error("ServiceAccount/User"),
            l.t("DOMAIN\\user or user@contoso.com"),
        ),
        ui::field(
            l.t("Password"),
            ui::password(
                "service-password",
                if form.stored.service { l.t("stored; leave empty to keep") } else { "" },
                form.service_password.expose(),
                |s| Message::Password(Secret::new(s)),
            ),
            None,
            if form.stored.service {
                l.t("A password is stored; type a new one only to change it.")
            } else {
                l.t("Kept in the operating system's credential store, never in the configuration file.")
            },
        ),
    ]
    .spacing(18)
    .into()
}
