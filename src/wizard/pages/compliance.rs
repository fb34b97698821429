//! Page 8, Compliance source: which devices comply — the access policy file alone, or also
//! Microsoft Intune's compliance state, read from Microsoft Graph as an app registered in
//! Entra ID (tenant, application, and a certificate or a client secret). Test runs check 14
//! alone. Only edits the form; the certificate's key and the secret are never shown.

use iced::widget::{button, column, row, text};
use iced::Element;

use super::super::focus::focusable;
use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use super::super::words;
use crate::config::fields;
use crate::config::model::CloudCredential;
use crate::probe::Status;
use crate::secrets::{Secret, SecretKind};

/// Input to the Compliance source page.
#[derive(Debug, Clone)]
pub enum Message {
    /// Intune as a source, or the policy file only.
    Intune(bool),
    /// `Cloud/TenantId` changed.
    Tenant(String),
    /// `Cloud/ApplicationId` changed.
    App(String),
    /// `Cloud/Credential` chosen.
    Credential(CloudCredential),
    /// The certificate file's path changed.
    CertFile(String),
    /// The PFX's password changed.
    CertPassword(Secret),
    /// The client secret changed.
    Secret(Secret),
    /// Pick the certificate file with the file dialog.
    Browse,
    /// Run check 14 now.
    Test,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Open the file dialog for the certificate.
    BrowseCertificate,
    /// Run check 14 with the form as it is.
    Test,
}

/// The last Test: running, or its outcome.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub testing: bool,
    pub result: Option<Result<crate::probe::Outcome, crate::wizard::effects::TestError>>,
}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::Intune(v) => form.intune = v,
        Message::Tenant(v) => form.cloud_tenant = v,
        Message::App(v) => form.cloud_app = v,
        Message::Credential(c) => form.cloud_credential = c,
        Message::CertFile(v) => {
            form.cloud_cert_file = v;
            form.read_cloud_certificate();
        }
        Message::CertPassword(v) => {
            form.cloud_cert_password = v;
            form.read_cloud_certificate();
        }
        Message::Secret(v) => form.cloud_secret = v,
        Message::Browse => return Some(Event::BrowseCertificate),
        Message::Test => return Some(Event::Test),
    }
    None
}

pub fn shortcut(form: &Form, c: char) -> Option<Message> {
    match c {
        'i' => Some(Message::Intune(!form.intune)),
        'y' if form.intune => Some(Message::Test),
        _ => None,
    }
}

/// A radio of ours: focusable, with an id on its bounds.
fn choice<'a, T: Copy + Eq + 'a>(
    id: &'static str,
    label: &'a str,
    value: T,
    current: T,
    on: fn(T) -> Message,
) -> Element<'a, Message> {
    focusable(
        id,
        iced::widget::container(
            iced::widget::radio(label, value, Some(current), on)
                .size(18)
                .text_size(ui::BODY),
        )
        .id(id),
        Some(on(value)),
    )
}

pub fn view<'a>(form: &'a Form, state: &'a State, l: Lang) -> Element<'a, Message> {
    let mut col = column![
        ui::para(l.t("Which devices comply: the access policy file alone, or also the compliance state Microsoft Intune keeps for each device (read from Microsoft Graph by an app registered in Entra ID).")),
        column![
            choice(
                "source-policy",
                l.t("Access policy file only"),
                false,
                form.intune,
                Message::Intune
            ),
            choice(
                "source-intune",
                l.t("Intune (Microsoft Graph) and the access policy file"),
                true,
                form.intune,
                Message::Intune
            ),
        ]
        .spacing(10),
    ]
    .spacing(18);
    if !form.intune {
        return col.into();
    }
    col = col.push(ui::required_field(
        l.t("Directory (tenant) ID"),
        ui::input(
            "cloud-tenant",
            "contoso.onmicrosoft.com",
            &form.cloud_tenant,
            Message::Tenant,
        ),
        form.error_in(l, &fields::CLOUD_TENANT_ID),
        l.t("The tenant's GUID or a verified domain (Entra admin center › Overview)."),
    ));
    col = col.push(ui::required_field(
        l.t("Application (client) ID"),
        ui::input(
            "cloud-app",
            "00000000-0000-0000-0000-000000000000",
            &form.cloud_app,
            Message::App,
        ),
        form.error_in(l, &fields::CLOUD_APPLICATION_ID),
        l.t("The app registration's ID. It needs the application permission DeviceManagementManagedDevices.Read.All, with admin consent."),
    ));
    col = col.push(ui::field(
        l.t("Sign-in with"),
        row![
            choice(
                "cred-certificate",
                l.t("Certificate (recommended)"),
                CloudCredential::Certificate,
                form.cloud_credential,
                Message::Credential
            ),
            choice(
                "cred-secret",
                l.t("Client secret"),
                CloudCredential::Secret,
                form.cloud_credential,
                Message::Credential
            ),
        ]
        .spacing(18)
        .wrap(),
        None,
        "",
    ));
    match form.cloud_credential {
        CloudCredential::Certificate => {
            let (error, hint) = match &form.cloud_cert {
                Some(Err(e)) => (Some(words::import_error(l, e)), ""),
                _ if form.show_required
                    && !form.cloud_credential_ok()
                    && form.cloud_cert_file.trim().is_empty() =>
                {
                    (Some(l.t("Required: fill this in to go on.").to_string()), "")
                }
                _ if form.no_cert_dialog => (None, l.t("No file dialog can open on this computer (no desktop portal): type the file's full path in the box.")),
                _ if form.stored.cloud_certificate => (None, l.t("A certificate is stored; choose a file only to replace it.")),
                _ => (None, l.t("A PEM file with the certificate and its private key, or a PFX (.pfx/.p12). Its public part (.cer) must be uploaded to the app registration.")),
            };
            col = col.push(ui::required_field(
                l.t("Certificate file"),
                row![
                    ui::input(
                        "cloud-cert",
                        "C:\\certs\\eas-connector.pfx",
                        &form.cloud_cert_file,
                        Message::CertFile
                    ),
                    focusable(
                        "cloud-browse",
                        button(l.t("Browse…"))
                            .padding([8, 14])
                            .style(ui::plain_button)
                            .on_press(Message::Browse),
                        Some(Message::Browse),
                    ),
                ]
                .spacing(8),
                error,
                hint,
            ));
            col = col.push(ui::field(
                l.t("PFX password (if it has one)"),
                ui::password(
                    "cloud-cert-password",
                    "",
                    form.cloud_cert_password.expose(),
                    |s| Message::CertPassword(Secret::new(s)),
                ),
                None,
                "",
            ));
            if let Some(Ok(c)) = &form.cloud_cert {
                col = col.push(ui::note(
                    ui::NoteKind::Info,
                    l.f(
                        "Certificate {}, thumbprint {}, valid until {}. Only its key goes to the password store.",
                        &[
                            &c.subject,
                            &c.thumbprint,
                            &c.not_after.strftime("%Y-%m-%d").to_string(),
                        ],
                    ),
                ));
            }
        }
        CloudCredential::Secret => {
            col = col.push(ui::required_field(
                l.t("Client secret (its Value)"),
                ui::password(
                    "cloud-secret",
                    if form.stored.cloud_secret {
                        l.t("stored; leave empty to keep")
                    } else {
                        ""
                    },
                    form.cloud_secret.expose(),
                    |s| Message::Secret(Secret::new(s)),
                ),
                form.password_error(l, SecretKind::CloudClientSecret),
                l.t("Secrets expire (at most two years): the connector says so when Entra ID refuses it. A certificate is safer."),
            ));
        }
    }
    let test = (!state.testing && form.compliance_ok()).then_some(Message::Test);
    col = col.push(
        row![
            focusable(
                "cloud-test",
                button(text(l.t("Test the sign-in and read Intune")).size(ui::BODY))
                    .padding([6, 14])
                    .style(ui::plain_button)
                    .on_press_maybe(test.clone()),
                test,
            ),
            text("Alt+Y").size(ui::SMALL).style(ui::muted),
        ]
        .spacing(10)
        .align_y(iced::Center),
    );
    if state.testing {
        col = col.push(ui::para(l.t("Signing in to Entra ID and reading Intune…")));
    }
    match &state.result {
        Some(Ok(o)) => {
            let kind = match o.status {
                Status::Passed => ui::NoteKind::Success,
                Status::Warning | Status::Skipped => ui::NoteKind::Warning,
                _ => ui::NoteKind::Error,
            };
            let mut s = words::finding(l, &o.finding);
            if let Some(f) = &o.fix {
                s.push('\n');
                s.push_str(&l.f("Fix: {}", &[&words::fix(l, f)]));
            }
            col = col.push(ui::note(kind, s));
        }
        Some(Err(e)) => col = col.push(ui::note(ui::NoteKind::Error, words::test_error(l, e))),
        None => {}
    }
    col.into()
}
