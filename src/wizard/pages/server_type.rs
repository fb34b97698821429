//! Page 2, Exchange server type: on-premises (a Client Access Server) or hosted (a provider's
//! address). Only edits the form.

use iced::widget::column;
use iced::Element;

use super::super::form::Form;
use super::super::i18n::Lang;
use super::super::ui;
use crate::config::ExchangeServerType;

/// Input to the server type page.
#[derive(Debug, Clone)]
pub enum Message {
    /// The admin picked a server type.
    Picked(ExchangeServerType),
}

/// This page needs nothing from the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {}

pub fn update(form: &mut Form, msg: Message) -> Option<Event> {
    match msg {
        Message::Picked(t) => form.server_type = t,
    }
    None
}

pub fn shortcut(_form: &Form, c: char) -> Option<Message> {
    match c {
        'o' => Some(Message::Picked(ExchangeServerType::OnPremises)),
        'h' => Some(Message::Picked(ExchangeServerType::Hosted)),
        _ => None,
    }
}

pub fn view(form: &Form, l: Lang) -> Element<'_, Message> {
    let sel = Some(form.server_type);
    column![
        ui::para(l.t("Where does your Exchange run?")),
        ui::radio(
            "type-onprem",
            l.t("On-premises Exchange Server (2010 SP3 – 2019, Subscription Edition)"),
            "Alt+O",
            ExchangeServerType::OnPremises,
            sel,
            Message::Picked,
        ),
        ui::radio(
            "type-hosted",
            l.t("Hosted Exchange (a provider runs it for you)"),
            "Alt+H",
            ExchangeServerType::Hosted,
            sel,
            Message::Picked,
        ),
        ui::note(
            ui::NoteKind::Info,
            l.t("Exchange Online (Microsoft 365) is not supported: it has its own device access controls."),
        ),
    ]
    .spacing(16)
    .into()
}
