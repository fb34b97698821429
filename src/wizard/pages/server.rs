//! Page 3, Server: the Client Access Server (its FQDN for HTTPS, or Microsoft's default
//! `http://<fqdn>/PowerShell/`) or the hosted address, or the Exchange Online tenant; in Advanced, an EWS
//! URL override and a trusted CA file (with a file dialog). Only edits the form; the dialog
//! itself is opened by the app.

use iced::widget::{button, column, row};
use iced::Element;

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use crate::config::{fields, ExchangeServerType};

/// Input to the server page.
#[derive(Debug, Clone)]
pub enum Message {
    /// The CAS FQDN changed.
    Cas(String),
    /// The hosted server address changed.
    Hosted(String),
    /// The Exchange Online tenant changed.
    Tenant(String),
    /// Show or hide the advanced settings.
    Advanced(bool),
    /// The EWS URL override changed.
    EwsUrl(String),
    /// The trusted CA file path changed.
    CaFile(String),
    /// The admin asked for the file dialog.
    Browse,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Open a file dialog for the CA file.
    BrowseCaFile,
}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::Cas(v) => form.cas = v,
        Message::Hosted(v) => form.hosted = v,
        Message::Tenant(v) => form.cloud_tenant = v,
        Message::Advanced(v) => form.show_advanced = v,
        Message::EwsUrl(v) => form.ews_url = v,
        Message::CaFile(v) => form.ca_file = v,
        Message::Browse => return Some(Event::BrowseCaFile),
    }
    None
}

pub fn shortcut(form: &Form, c: char) -> Option<Message> {
    match c {
        'a' => Some(Message::Advanced(!form.show_advanced)),
        _ => None,
    }
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    let mut col = column![].spacing(18);
    col = match form.server_type {
        ExchangeServerType::OnPremises => col.push(ui::required_field(
            l.t("Client Access Server"),
            ui::input(
                "cas",
                "cas01.contoso.com  or  http://cas01.contoso.com/PowerShell/",
                &form.cas,
                Message::Cas,
            ),
            form.error_in(l, &fields::CLIENT_ACCESS_SERVER),
            l.t("host[:port], e.g. cas01.contoso.com, connects over HTTPS. An Exchange with Microsoft's default settings is reached at http://<fqdn>/PowerShell/: sign-in with Kerberos, every message encrypted."),
        )),
        ExchangeServerType::Hosted => col.push(ui::required_field(
            l.t("Hosted server address"),
            ui::input(
                "hosted",
                "mail.provider.example",
                &form.hosted,
                Message::Hosted,
            ),
            form.error_in(l, &fields::HOSTED_SERVER_ADDRESS),
            l.t("host[:port] or the https:// address your provider gave you."),
        )),
        ExchangeServerType::Online => col.push(ui::required_field(
            l.t("Directory (tenant) ID"),
            ui::input(
                "cloud-tenant",
                "contoso.onmicrosoft.com",
                &form.cloud_tenant,
                Message::Tenant,
            ),
            form.error_in(l, &fields::CLOUD_TENANT_ID),
            l.t("The tenant's GUID or a verified domain (Entra admin center › Overview)."),
        )),
    };
    col = col.push(ui::check(
        "advanced",
        l.t("Show advanced settings"),
        "Alt+A",
        form.show_advanced,
        Message::Advanced,
    ));
    if form.show_advanced {
        col = col.push(ui::field(
            l.t("EWS URL (optional)"),
            ui::input(
                "ews-url",
                "https://mail.contoso.com/EWS/Exchange.asmx",
                &form.ews_url,
                Message::EwsUrl,
            ),
            form.error_in(l, &fields::EWS_URL),
            l.t("Leave empty to find it with Autodiscover."),
        ));
        col = col.push(ui::field(
            l.t("Trusted CA file (optional)"),
            row![
                ui::input("ca-file", "C:\\certs\\contoso-ca.pem", &form.ca_file, Message::CaFile),
                super::super::focus::focusable(
                    "browse",
                    button(l.t("Browse…"))
                        .padding([8, 14])
                        .style(ui::plain_button)
                        .on_press(Message::Browse),
                    Some(Message::Browse),
                ),
            ]
            .spacing(8),
            form.error_in(l, &fields::TRUSTED_CA_FILE),
            if form.no_file_dialog {
                l.t("No file dialog can open on this computer (no desktop portal): type the file's full path in the box.")
            } else {
                l.t("A PEM file with your internal CA, when Exchange's certificate is not publicly trusted.")
            },
        ));
    }
    col.into()
}
