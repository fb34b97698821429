//! Page 5, Service account: the account the connector signs in to Exchange's remote
//! PowerShell with, the Kerberos realm that account will use (live, from the same code the
//! sign-in uses), and in Advanced the optional Kerberos settings (realm, domain controllers,
//! service principal name). Only edits the form; a stored password is never shown.

use crate::config::fields;
use iced::widget::column;
use iced::Element;

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use crate::config::AuthenticationMethod;
use crate::secrets::{Secret, SecretKind};

/// Input to the service account page.
#[derive(Debug, Clone)]
pub enum Message {
    /// The account name changed.
    User(String),
    /// The password changed.
    Password(Secret),
    /// Show or hide the advanced Kerberos settings.
    Advanced(bool),
    /// `Kerberos/Realm` changed.
    Realm(String),
    /// `Kerberos/KdcAddress` changed.
    Kdc(String),
    /// `Kerberos/ServicePrincipalName` changed.
    Spn(String),
    /// `AuthenticationMethod` chosen.
    Method(AuthenticationMethod),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::User(v) => form.service_user = v,
        Message::Password(v) => form.service_password = v,
        Message::Advanced(v) => form.show_kerberos = v,
        Message::Realm(v) => form.kerberos_realm = v,
        Message::Kdc(v) => form.kerberos_kdc = v,
        Message::Spn(v) => form.kerberos_spn = v,
        Message::Method(m) => form.auth_method = m,
    }
    None
}

pub fn shortcut(form: &Form, c: char) -> Option<Message> {
    match c {
        'a' => Some(Message::Advanced(!form.kerberos_open())),
        _ => None,
    }
}

/// The line about the Kerberos realm: which one and why, or why there is none.
pub fn realm_note<'a, M: 'a>(form: &Form, l: Lang) -> Option<Element<'a, M>> {
    Some(match form.kerberos_realm()? {
        Ok((realm, source)) => ui::note(
            ui::NoteKind::Info,
            l.f("Kerberos realm: {} ({})", &[&realm, l.t(source.describe())]),
        ),
        Err(e) => ui::note(
            ui::NoteKind::Warning,
            l.f(
                "Kerberos realm: not found — {}. To use Kerberos, enter the realm under the advanced settings.",
                &[&super::super::words::name_error(l, &e)],
            ),
        ),
    })
}

/// The widget ids of the service account's method choices, in [`METHODS`] order.
pub const METHOD_IDS: [&str; 5] = [
    "auth-auto",
    "auth-kerberos",
    "auth-negotiate",
    "auth-ntlm",
    "auth-basic",
];

/// Every `AuthenticationMethod`, Automatic first (the order of the choices).
pub const METHODS: [AuthenticationMethod; 5] = [
    AuthenticationMethod::Auto,
    AuthenticationMethod::Kerberos,
    AuthenticationMethod::Negotiate,
    AuthenticationMethod::Ntlm,
    AuthenticationMethod::Basic,
];

/// A choice of `AuthenticationMethod` (the service account's or the proxy's): one radio per
/// method, Automatic first, each focusable under its id in `ids` (in [`METHODS`] order).
pub fn method_choice<'a, M: Clone + 'a>(
    current: AuthenticationMethod,
    ids: &'static [&'static str; 5],
    group_id: &'static str,
    on_choose: fn(AuthenticationMethod) -> M,
    hint: &'a str,
    l: Lang,
) -> Element<'a, M> {
    let mut list = iced::widget::row![].spacing(18);
    for (m, id) in METHODS.into_iter().zip(ids.iter().copied()) {
        let label = match m {
            AuthenticationMethod::Auto => l.t("Automatic (recommended)"),
            AuthenticationMethod::Kerberos => "Kerberos",
            AuthenticationMethod::Negotiate => "Negotiate",
            AuthenticationMethod::Ntlm => "NTLM",
            AuthenticationMethod::Basic => l.t("Basic (HTTPS only)"),
        };
        list = list.push(super::super::focus::focusable(
            id,
            iced::widget::container(
                iced::widget::radio(label, m, Some(current), on_choose)
                    .size(18)
                    .text_size(ui::BODY),
            )
            .id(id),
            Some(on_choose(m)),
        ));
    }
    ui::field(
        l.t("Authentication method"),
        iced::widget::container(list.wrap()).id(group_id),
        None,
        hint,
    )
}

/// `AuthenticationMethod`: one choice per method, Automatic first.
fn method_choice_here(form: &Form, l: Lang) -> Element<'_, Message> {
    method_choice(
        form.auth_method,
        &METHOD_IDS,
        "auth-method",
        Message::Method,
        l.t("Automatic signs in with Kerberos when the domain answers, else NTLM; Basic only over HTTPS."),
        l,
    )
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    let mut col = column![
        ui::para(l.t("The account the connector uses for Exchange remote PowerShell. It needs the Organization Management role, or a role with the Get-/Set-CASMailbox and ActiveSync device cmdlets.")),
        ui::required_field(
            l.t("Account"),
            ui::input("service-user", "CONTOSO\\svc-eas", &form.service_user, Message::User),
            form.error_in(l, &fields::SERVICE_ACCOUNT_USER),
            l.t("DOMAIN\\user or user@contoso.com"),
        ),
        ui::required_field(
            l.t("Password"),
            ui::password(
                "service-password",
                if form.stored.service { l.t("stored; leave empty to keep") } else { "" },
                form.service_password.expose(),
                |s| Message::Password(Secret::new(s)),
            ),
            form.password_error(l, SecretKind::ServiceAccount),
            if form.stored.service {
                l.t("A password is stored; type a new one only to change it.")
            } else {
                l.t("Kept in the password store (the operating system's, or an owner-only file where there is none; the Done page says which), never in the configuration file.")
            },
        ),
        method_choice_here(form, l),
    ]
    .spacing(18);
    // The realm note comes and goes as the account is typed; it shares one child of the page's
    // column with the check box, so that the text boxes below keep their place in the widget
    // tree (and the focus stays in the box being typed into).
    let open = form.kerberos_open();
    let mut kerberos = column![].spacing(18);
    if let Some(note) = realm_note(form, l) {
        kerberos = kerberos.push(note);
    }
    col = col.push(kerberos.push(ui::check(
        "kerberos-advanced",
        l.t("Show advanced Kerberos settings"),
        "Alt+A",
        open,
        Message::Advanced,
    )));
    if open {
        col = col.push(ui::field(
            l.t("Kerberos realm (optional)"),
            ui::input(
                "kerberos-realm",
                "CORP.CONTOSO.COM",
                &form.kerberos_realm,
                Message::Realm,
            ),
            form.error_in(l, &fields::KERBEROS_REALM),
            l.t("The Active Directory DNS domain. Empty: the account's UPN suffix, else the Exchange server's DNS domain."),
        ));
        col = col.push(ui::field(
            l.t("Domain controllers / KDC (optional)"),
            ui::input(
                "kerberos-kdc",
                "dc1.corp.contoso.com, dc2.corp.contoso.com",
                &form.kerberos_kdc,
                Message::Kdc,
            ),
            form.error_in(l, &fields::KERBEROS_KDC_ADDRESS),
            l.t("host[:port], comma-separated. Empty: the realm's DNS SRV records (_kerberos._tcp)."),
        ));
        col = col.push(ui::field(
            l.t("Service principal name (optional)"),
            ui::input(
                "kerberos-spn",
                "HTTP/mail.contoso.com",
                &form.kerberos_spn,
                Message::Spn,
            ),
            form.error_in(l, &fields::KERBEROS_SPN),
            l.t("Empty: HTTP/<server FQDN>. For a load-balanced name with an alternate service account."),
        ));
    }
    col.into()
}
