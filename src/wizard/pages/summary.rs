//! Page 9, Summary: what will be written and where, where the passwords go, which service is
//! registered (or why none is), and what is replaced. The last chance to go Back; nothing is
//! written until Apply.

use iced::widget::{column, text};
use iced::Element;

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use super::super::words;
use super::welcome::Mode;
use crate::config::{fields, ConfigLocation};
use crate::secrets::{SecretError, StoreKind};
use std::sync::Arc;

/// Input to the Summary page.
#[derive(Debug, Clone)]
pub enum Message {
    /// Register and start the service, or write the configuration only.
    RegisterService(bool),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

/// What the Summary shows, borrowed from the app.
pub struct Context<'a> {
    pub loc: &'a ConfigLocation,
    pub form: &'a Form,
    pub mode: Mode,
    /// `(service name, manager description)` when a service manager is available.
    pub service: Option<(String, String)>,
    pub register_service: bool,
    /// Why no service manager is available, when none is.
    pub no_service: Option<&'a crate::service::manager::ServiceError>,
    /// `--config-dir … --org …` for the command shown.
    pub cli_args: String,
    /// On Reconfigure: the configuration as it is now, to list what changes.
    pub before: Option<&'a crate::config::ConnectorConfig>,
    /// The password store setup will use; `None` while it is being found out.
    pub store: Option<&'a Result<StoreKind, Arc<SecretError>>>,
}

pub fn update(register: &mut bool, available: bool, msg: Message) -> Option<Event> {
    match msg {
        Message::RegisterService(v) => *register = v && available,
    }
    None
}

pub fn shortcut(register: bool, c: char) -> Option<Message> {
    match c {
        'g' => Some(Message::RegisterService(!register)),
        _ => None,
    }
}

/// Where the passwords go: the store setup will really use (decided off the UI thread by
/// `secrets::chosen_store`, as configure decides), `None` while that is being found out.
fn store_text(l: Lang, choice: Option<&Result<StoreKind, Arc<SecretError>>>) -> String {
    match choice {
        None => l.t("Finding out which password store will be used…").to_string(),
        Some(Ok(StoreKind::Systemd)) => l.t("systemd credentials in the organization's Credentials folder: encrypted with this machine's key; only root and the service (when it starts) can read them.").to_string(),
        Some(Ok(StoreKind::Os)) if cfg!(windows) => l.t("Windows Credential Manager, and an encrypted copy (DPAPI) for the service that only SYSTEM and Administrators can read.").to_string(),
        Some(Ok(StoreKind::Os)) => l.t("Your desktop keyring (the Secret Service).").to_string(),
        Some(Ok(StoreKind::File)) => l.t("The file ConnectorSecrets.json beside the configuration: NOT encrypted, readable by its owner only (mode 0600). Move the passwords with `eas-connector config migrate-secrets`.").to_string(),
        Some(Err(e)) => l.f("No password store can be used, so Apply will stop before writing anything: {}", &[&words::secret_error(l, e)]),
    }
}

pub fn view<'a>(cx: Context<'a>, l: Lang) -> Element<'a, Message> {
    let f = cx.form;
    let server = match f.server_type {
        crate::config::ExchangeServerType::OnPremises => f.cas.clone(),
        crate::config::ExchangeServerType::Hosted => f.hosted.clone(),
        crate::config::ExchangeServerType::Online => f.cloud_tenant.clone(),
    };
    let proxy = if f.proxy_enabled {
        format!("{}:{}", f.proxy_host.trim(), f.proxy_port.trim())
    } else {
        l.t("none").to_string()
    };
    let typed: Vec<&str> = f
        .typed_passwords()
        .iter()
        .map(|(k, _)| l.t(k.label()))
        .collect();
    let passwords = if typed.is_empty() {
        l.t("none typed; the stored ones are kept").to_string()
    } else {
        typed.join(", ")
    };
    let kerberos: Vec<String> = [
        (l.t("realm"), &fields::KERBEROS_REALM),
        ("KDC", &fields::KERBEROS_KDC_ADDRESS),
        ("SPN", &fields::KERBEROS_SPN),
    ]
    .into_iter()
    .map(|(label, path)| (label, f.written(path)))
    .filter(|(_, v)| !v.is_empty())
    // A no-break space keeps each name with its value when the line wraps.
    .map(|(label, v)| format!("{label}\u{a0}{v}"))
    .collect();
    let mut col = column![
        ui::para(l.t("Press Apply to write this. Nothing has been changed yet.")),
        ui::kv(
            l.t("Configuration file"),
            cx.loc.config_file().display().to_string()
        ),
        ui::kv(l.t("Exchange server"), server),
        ui::kv(l.t("Proxy"), proxy),
        ui::kv(l.t("Service account"), f.service_user.clone()),
    ]
    .spacing(10);
    if !kerberos.is_empty() {
        col = col.push(ui::kv("Kerberos", kerberos.join(" · ")));
    }
    let compliance = if f.intune {
        use crate::config::model::CloudCredential;
        let credential = match (f.cloud_credential, f.cloud_certificate()) {
            (CloudCredential::Certificate, Some(c)) => l.f(
                "certificate {} (its key goes to the password store)",
                &[&c.thumbprint],
            ),
            (CloudCredential::Certificate, None) => l.t("the stored certificate").to_string(),
            (CloudCredential::Secret, _) if !f.cloud_secret.is_empty() => {
                l.t("a client secret (to the password store)").to_string()
            }
            (CloudCredential::Secret, _) => l.t("the stored client secret").to_string(),
        };
        l.f(
            "Intune and the access policy file: tenant {}, application {}, {}",
            &[f.cloud_tenant.trim(), f.cloud_app.trim(), &credential],
        )
    } else {
        l.t("the access policy file only").to_string()
    };
    col = col
        .push(ui::kv(
            l.t("Notification mailbox"),
            f.notify_mailbox.clone(),
        ))
        .push(ui::kv(l.t("Compliance source"), compliance))
        .push(ui::kv(l.t("Passwords to store"), passwords))
        .push(ui::kv(l.t("Passwords go to"), store_text(l, cx.store)));
    if let Some(before) = cx.before {
        let mut changes = column![ui::bold(text(l.t("What changes")).size(ui::BODY))].spacing(4);
        let mut any = false;
        for (field, _) in f.fields() {
            let (old, new) = (field.get(before), f.written(field));
            if old != new {
                any = true;
                changes = changes.push(
                    text(l.f(
                        "{}: {} → {}",
                        &[
                            l.t(words::setting_label(field)),
                            &words::setting_value(l, &old),
                            &words::setting_value(l, &new),
                        ],
                    ))
                    .size(ui::BODY)
                    .wrapping(text::Wrapping::WordOrGlyph),
                );
            }
        }
        for (kind, _) in f.typed_passwords() {
            any = true;
            changes = changes.push(
                text(l.f("a new password is stored: {}", &[l.t(kind.label())])).size(ui::BODY),
            );
        }
        if !any {
            changes = changes.push(ui::para(l.t("Nothing changes in the configuration.")));
        }
        col = col.push(changes);
    }
    let mut all = column![ui::bold(text(l.t("All settings")).size(ui::BODY))].spacing(6);
    for (field, _) in f.fields() {
        all = all.push(ui::kv(
            l.t(words::setting_label(field)),
            words::setting_value(l, &f.written(field)),
        ));
    }
    col = col.push(all);
    let replaced = match cx.mode {
        Mode::Replace => Some(l.t("The existing configuration is replaced; the previous file is kept as ConnectorServiceConfiguration.xml.bak.")),
        Mode::Reconfigure => Some(l.t("The existing configuration is updated in place; settings you added by hand are kept, the previous file is kept as .bak.")),
        Mode::Lab | Mode::New => None,
    };
    if let Some(r) = replaced {
        col = col.push(ui::note(ui::NoteKind::Warning, r));
    }
    match &cx.service {
        Some((name, manager)) => {
            col = col.push(ui::check(
                "register-service",
                l.t("Register and start the service"),
                "Alt+G",
                cx.register_service,
                Message::RegisterService,
            ));
            col = col.push(
                text(l.f("Service {} with {}.", &[name, manager]))
                    .size(ui::SMALL)
                    .style(ui::muted),
            );
            if !cx.register_service {
                col = col.push(ui::note(
                    ui::NoteKind::Info,
                    l.t("Only the configuration and passwords are written; no service is registered or started."),
                ));
            }
        }
        None if cx.mode == Mode::Lab => {
            col = col.push(ui::note(
                ui::NoteKind::Info,
                l.t("Write configuration only, no service: the lab lives inside this wizard and stops when it closes, so no service is registered for it."),
            ));
        }
        None => {
            use crate::service::manager::ServiceError;
            let why = match cx.no_service {
                Some(ServiceError::NotElevated { .. }) => l.t("Write configuration only, no service: registering a service needs administrator rights (root on Linux). Start the setup as administrator to register it now, or later, as administrator:").to_string(),
                Some(ServiceError::Unavailable(detail)) => l.f("Write configuration only, no service: no service manager runs here ({}). Register the service later, where one runs, as administrator:", &[detail]),
                _ => l.t("Write configuration only, no service: no service manager is available to this program. Register the service later, as administrator:").to_string(),
            };
            let command = if cx.cli_args.is_empty() {
                "eas-connector service install".to_string()
            } else {
                format!("eas-connector {} service install", cx.cli_args)
            };
            col = col.push(ui::note(ui::NoteKind::Info, why));
            col = col.push(ui::mono(text(command).size(ui::SMALL)));
        }
    }
    col.into()
}
