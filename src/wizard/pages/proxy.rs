//! Page 4, Proxy: whether an HTTP proxy stands between the connector and Exchange, and its
//! credentials and how to sign in to it (`Proxy/AuthenticationMethod`). Only edits the form; a stored proxy password is never shown.

use crate::config::{fields, AuthenticationMethod};
use iced::widget::{column, row};
use iced::{Element, Length};

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use crate::secrets::{Secret, SecretKind};

/// Input to the proxy page.
#[derive(Debug, Clone)]
pub enum Message {
    /// Use a proxy or not.
    Enabled(bool),
    /// The proxy host changed.
    Host(String),
    /// The proxy port changed.
    Port(String),
    /// Authenticate to the proxy or not.
    UseCredentials(bool),
    /// The proxy user changed.
    User(String),
    /// The proxy password changed.
    Password(Secret),
    /// `Proxy/AuthenticationMethod` chosen.
    Method(AuthenticationMethod),
}

/// The widget ids of the proxy's sign-in method choices (Automatic first).
pub const PROXY_METHOD_IDS: [&str; 5] = [
    "proxy-auth-auto",
    "proxy-auth-kerberos",
    "proxy-auth-negotiate",
    "proxy-auth-ntlm",
    "proxy-auth-basic",
];

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::Enabled(v) => form.proxy_enabled = v,
        Message::Host(v) => form.proxy_host = v,
        Message::Port(v) => form.proxy_port = v,
        Message::UseCredentials(v) => form.proxy_use_credentials = v,
        Message::User(v) => form.proxy_user = v,
        Message::Password(v) => form.proxy_password = v,
        Message::Method(m) => form.proxy_auth_method = m,
    }
    None
}

pub fn shortcut(form: &Form, c: char) -> Option<Message> {
    match c {
        'u' => Some(Message::Enabled(!form.proxy_enabled)),
        'c' if form.proxy_enabled => Some(Message::UseCredentials(!form.proxy_use_credentials)),
        _ => None,
    }
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    let mut col = column![
        ui::para(l.t("Does this computer reach Exchange through an HTTP proxy?")),
        ui::check(
            "proxy-enabled",
            l.t("Use a proxy server"),
            "Alt+U",
            form.proxy_enabled,
            Message::Enabled
        ),
    ]
    .spacing(18);
    if form.proxy_enabled {
        col = col.push(
            row![
                iced::widget::container(ui::required_field(
                    l.t("Proxy host"),
                    ui::input(
                        "proxy-host",
                        "proxy.contoso.com",
                        &form.proxy_host,
                        Message::Host
                    ),
                    form.error_in(l, &fields::PROXY_HOST),
                    "",
                ))
                .width(Length::FillPortion(3)),
                iced::widget::container(ui::field(
                    l.t("Port"),
                    ui::input("proxy-port", "8080", &form.proxy_port, Message::Port),
                    form.error_in(l, &fields::PROXY_PORT),
                    "",
                ))
                .width(Length::FillPortion(1)),
            ]
            .spacing(12),
        );
        col = col.push(ui::check(
            "proxy-credentials",
            l.t("The proxy requires a user name and password"),
            "Alt+C",
            form.proxy_use_credentials,
            Message::UseCredentials,
        ));
        if form.proxy_use_credentials {
            col = col.push(ui::required_field(
                l.t("Proxy user"),
                ui::input(
                    "proxy-user",
                    "CONTOSO\\proxyuser",
                    &form.proxy_user,
                    Message::User,
                ),
                form.error_in(l, &fields::PROXY_USER),
                "",
            ));
            col = col.push(ui::required_field(
                l.t("Proxy password"),
                ui::password(
                    "proxy-password",
                    if form.stored.proxy {
                        l.t("stored; leave empty to keep")
                    } else {
                        ""
                    },
                    form.proxy_password.expose(),
                    |s| Message::Password(Secret::new(s)),
                ),
                form.password_error(l, SecretKind::Proxy),
                if form.stored.proxy {
                    l.t("A password is stored; type a new one only to change it.")
                } else {
                    ""
                },
            ));
            col = col.push(super::service_account::method_choice(
                form.proxy_auth_method,
                &PROXY_METHOD_IDS,
                "proxy-auth-method",
                Message::Method,
                l.t("Automatic uses what the proxy offers when it asks (Negotiate, NTLM, Basic); the others are sent from the first request."),
                l,
            ));
        }
    }
    col.into()
}
