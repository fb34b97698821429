//! Building blocks shared by the pages: labelled fields with inline errors, check boxes and
//! radio buttons with ids (so tests and keyboard shortcuts can reach them), notes, styles.
//!
//! Only layout and styling live here; no page state and no I/O.

use iced::widget::{column, container, row, text, text_input, Space};
use iced::{Element, Font, Length, Theme};

/// Text size of body copy.
pub const BODY: u32 = 15;
/// Text size of small print (hints, errors, durations).
pub const SMALL: u32 = 13;

/// The wizard's font, named rather than left to the text system's choice (which takes a
/// "sans-serif" that is often not installed and falls back to whatever comes first): the
/// window uses it as its default, and the overflow test measures with it. DejaVu Sans ships
/// with every common Linux distribution; Segoe UI with every Windows since Vista.
pub const FONT: Font = Font::with_name(if cfg!(windows) {
    "Segoe UI"
} else {
    "DejaVu Sans"
});

/// The bold variant of [`FONT`].
pub const BOLD: Font = Font {
    weight: iced::font::Weight::Bold,
    ..FONT
};

/// The id of the containers that hold bold text ([`bold`]), by which the overflow test
/// knows to measure their text in [`BOLD`].
pub const BOLD_ID: &str = "text-bold";
/// The id of the containers that hold commands in [`MONO`] ([`mono`]).
pub const MONO_ID: &str = "text-mono";

/// `t` in [`BOLD`] (in a container that says so, for the overflow test).
pub fn bold<'a, M: 'a>(t: iced::widget::Text<'a>) -> Element<'a, M> {
    container(t.font(BOLD)).id(BOLD_ID).into()
}

/// `t` in [`MONO`] (in a container that says so, for the overflow test).
pub fn mono<'a, M: 'a>(t: iced::widget::Text<'a>) -> Element<'a, M> {
    container(t.font(MONO)).id(MONO_ID).into()
}

/// The font commands are shown in (named for the same reason as [`FONT`]).
pub const MONO: Font = Font::with_name(if cfg!(windows) {
    "Consolas"
} else {
    "DejaVu Sans Mono"
});

/// A labelled field: label, the input, then the error (red) or a hint (muted).
pub fn field<'a, M: 'a>(
    label: &'a str,
    input: impl Into<Element<'a, M>>,
    error: Option<String>,
    hint: &'a str,
) -> Element<'a, M> {
    column![
        bold(text(label).size(BODY)),
        input.into(),
        below(error, hint)
    ]
    .spacing(4)
    .into()
}

/// A [`field`] that must be filled in: its label carries a red `*`.
pub fn required_field<'a, M: 'a>(
    label: &'a str,
    input: impl Into<Element<'a, M>>,
    error: Option<String>,
    hint: &'a str,
) -> Element<'a, M> {
    column![
        row![
            bold(text(label).size(BODY)),
            bold(text("*").size(BODY).style(text::danger)),
        ]
        .spacing(3),
        input.into(),
        below(error, hint)
    ]
    .spacing(4)
    .into()
}

/// What stands under a field: its error (red), else its hint (muted), else nothing.
fn below<'a, M: 'a>(error: Option<String>, hint: &'a str) -> Element<'a, M> {
    match error {
        Some(e) => text(e).size(SMALL).style(text::danger).into(),
        None if !hint.is_empty() => text(hint).size(SMALL).style(muted).into(),
        None => Space::new().height(0).into(),
    }
}

/// A text box with an id (for focus and tests), sized for the content column.
pub fn input<'a, M: Clone + 'a>(
    id: &'static str,
    placeholder: &'a str,
    value: &'a str,
    on_input: impl Fn(String) -> M + 'a,
) -> iced::widget::TextInput<'a, M> {
    text_input(placeholder, value)
        .id(id)
        .on_input(on_input)
        .padding(8)
        .size(BODY)
        .width(Length::Fill)
}

/// A password box: masked; "stored" says a password is kept when left empty.
pub fn password<'a, M: Clone + 'a>(
    id: &'static str,
    placeholder: &'a str,
    value: &'a str,
    on_input: impl Fn(String) -> M + 'a,
) -> iced::widget::TextInput<'a, M> {
    input(id, placeholder, value, on_input).secure(true)
}

/// A check box wrapped in a container with `id`, with its keyboard shortcut shown.
pub fn check<'a, M: Clone + 'a>(
    id: &'static str,
    label: &'a str,
    shortcut: &'static str,
    checked: bool,
    on_toggle: impl Fn(bool) -> M + 'a,
) -> Element<'a, M> {
    let activate = on_toggle(!checked);
    row![
        // Fill: the shortcut is laid out first and keeps its width; the label wraps. The id is
        // on the check box's own bounds (tests click its centre).
        container(super::focus::focusable(
            id,
            container(
                iced::widget::checkbox(checked)
                    .label(label)
                    .on_toggle(on_toggle)
                    .size(18)
                    .text_size(BODY)
            )
            .id(id),
            Some(activate),
        ))
        .width(Length::Fill),
        text(shortcut).size(SMALL).style(muted),
    ]
    .spacing(10)
    .align_y(iced::Center)
    .into()
}

/// A radio button wrapped in a container with `id`, with its keyboard shortcut shown.
pub fn radio<'a, M: Clone + 'a, V: Copy + Eq + 'a>(
    id: &'static str,
    label: &'a str,
    shortcut: &'static str,
    value: V,
    selected: Option<V>,
    on_click: impl Fn(V) -> M,
) -> Element<'a, M> {
    let activate = on_click(value);
    row![
        container(super::focus::focusable(
            id,
            container(
                iced::widget::radio(label, value, selected, on_click)
                    .size(18)
                    .text_size(BODY)
            )
            .id(id),
            Some(activate),
        ))
        .width(Length::Fill),
        text(shortcut).size(SMALL).style(muted),
    ]
    .spacing(10)
    .align_y(iced::Center)
    .into()
}

/// A paragraph of explanation.
pub fn para<'a, M: 'a>(s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    text(s).size(BODY).into()
}

/// A framed note (information, warning or error).
pub fn note<'a, M: 'a>(kind: NoteKind, s: impl text::IntoFragment<'a>) -> Element<'a, M> {
    container(text(s).size(BODY))
        .padding([10, 14])
        .width(Length::Fill)
        .style(move |t: &Theme| {
            let p = t.extended_palette();
            let (bg, border) = match kind {
                NoteKind::Info => (p.background.weak.color, p.primary.base.color),
                NoteKind::Warning => (p.warning.weak.color, p.warning.strong.color),
                NoteKind::Error => (p.danger.weak.color, p.danger.strong.color),
                NoteKind::Success => (p.success.weak.color, p.success.strong.color),
            };
            container::Style {
                background: Some(bg.into()),
                text_color: Some(match kind {
                    NoteKind::Info => p.background.weak.text,
                    NoteKind::Warning => p.warning.weak.text,
                    NoteKind::Error => p.danger.weak.text,
                    NoteKind::Success => p.success.weak.text,
                }),
                border: iced::Border {
                    color: border,
                    width: 1.0,
                    radius: 4.0.into(),
                },
                ..container::Style::default()
            }
        })
        .into()
}

/// Which kind of [`note`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Info,
    Warning,
    Error,
    Success,
}

/// Muted text (hints, durations).
pub fn muted(theme: &Theme) -> text::Style {
    let p = theme.extended_palette();
    text::Style {
        color: Some(p.background.base.text.scale_alpha(0.68)),
    }
}

/// A key/value line for summaries.
pub fn kv<'a, M: 'a>(key: &'a str, value: impl text::IntoFragment<'a>) -> Element<'a, M> {
    row![
        // Narrow enough that a file name beside it fits an 800 px window on one line.
        bold(text(key).size(BODY).width(Length::Fixed(176.0))),
        // Paths and URLs break anywhere rather than run out of the window.
        text(value)
            .size(BODY)
            .width(Length::Fill)
            .wrapping(text::Wrapping::WordOrGlyph),
    ]
    .spacing(12)
    .into()
}

/// A quiet button: the page background with a thin border (Back, Cancel, Retry, …).
pub fn plain_button(
    theme: &Theme,
    status: iced::widget::button::Status,
) -> iced::widget::button::Style {
    use iced::widget::button::{Status, Style};
    let p = theme.extended_palette();
    let (bg, border) = match status {
        Status::Hovered | Status::Pressed => (p.background.weak.color, p.primary.base.color),
        _ => (p.background.base.color, p.background.strong.color),
    };
    let disabled = matches!(status, Status::Disabled);
    Style {
        background: Some(bg.into()),
        text_color: if disabled {
            p.background.base.text.scale_alpha(0.4)
        } else {
            p.background.base.text
        },
        border: iced::Border {
            color: if disabled {
                p.background.weak.color
            } else {
                border
            },
            width: 1.0,
            radius: 4.0.into(),
        },
        ..Style::default()
    }
}

/// A choice card on the Welcome page; `selected` draws it in the accent colour.
pub fn card(
    selected: bool,
) -> impl Fn(&Theme, iced::widget::button::Status) -> iced::widget::button::Style {
    move |theme, status| {
        use iced::widget::button::Status;
        let p = theme.extended_palette();
        let mut s = plain_button(theme, status);
        s.border.width = if selected { 2.0 } else { 1.0 };
        if selected {
            s.background = Some(p.primary.weak.color.scale_alpha(0.35).into());
            s.border.color = p.primary.base.color;
        } else if matches!(status, Status::Hovered) {
            s.border.color = p.primary.base.color;
        }
        s
    }
}
