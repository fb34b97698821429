//! The wizard's keyboard layer: one widget around the whole window that owns the keys before
//! and after the page's widgets see them.
//!
//! - Alt+letter is a shortcut ([`Message::Shortcut`]) and is taken *before* any widget sees the
//!   key press, so a focused text box never types the letter (iced's text input inserts the
//!   key's text whatever the modifiers). Text an input method commits while Alt is held is
//!   dropped for the same reason. Ctrl+Alt is AltGr on Windows (it types `\`, `@`, `€`) and is
//!   left alone.
//! - Esc is Cancel, also inside a text box (which would otherwise only drop its focus).
//! - Tab / Shift+Tab move the focus through every focusable widget in tree order and wrap
//!   around at either end (iced's own `focus_next` leaves nothing focused past the last one).
//! - Over a dialog ([`Keys::modal`]) Tab cycles through the dialog's own controls only; the
//!   page behind it cannot take the focus.
//! - Enter is Next when no widget used it (a focused button of ours presses itself instead).
//! - A [`FocusRequest`] from the wizard (a page was entered, fields appeared) is applied once,
//!   by id, when the view it belongs to is laid out; a new serial asks again.
//!
//! Everything happens inside the widget tree, so the iced_test Simulator exercises exactly
//! what a window does. No page state lives here and nothing is done but moving focus and
//! publishing messages.

use iced::advanced::layout::{self, Layout};
use iced::advanced::widget::operation::focusable::Focusable;
use iced::advanced::widget::{self as widget, tree, Operation, Tree, Widget};
use iced::advanced::{mouse, overlay, renderer, Clipboard, Shell};
use iced::keyboard::{self, key::Named, Key};
use iced::{Element, Event, Length, Rectangle, Size, Theme, Vector};

use super::Message;

/// Which widget should have the keyboard focus: asked for again whenever `serial` changes.
/// `None` leaves no widget focused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FocusRequest {
    pub serial: u64,
    pub target: Option<&'static str>,
}

impl FocusRequest {
    /// A new request for `target`, replacing this one.
    pub fn to(&mut self, target: Option<&'static str>) {
        self.serial += 1;
        self.target = target;
    }
}

/// The shortcut letter of an Alt+letter key press (lower case), if it is one.
pub fn shortcut(event: &keyboard::Event) -> Option<char> {
    let keyboard::Event::KeyPressed { key, modifiers, .. } = event else {
        return None;
    };
    match key.as_ref() {
        Key::Character(c) if modifiers.alt() && !modifiers.control() => {
            c.chars().next().map(|c| c.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The keyboard layer around `content`.
pub fn keys<'a>(content: impl Into<Element<'a, Message>>, focus: FocusRequest) -> Keys<'a> {
    Keys {
        content: content.into(),
        focus,
        modal: None,
    }
}

/// See the module documentation.
pub struct Keys<'a> {
    content: Element<'a, Message>,
    focus: FocusRequest,
    /// The ids Tab cycles through while a dialog is open.
    modal: Option<&'static [&'static str]>,
}

impl Keys<'_> {
    /// A dialog is open: Tab and Shift+Tab reach only the widgets with these ids.
    pub fn modal(mut self, ids: &'static [&'static str]) -> Self {
        self.modal = Some(ids);
        self
    }
}

#[derive(Default)]
struct State {
    /// Alt (without Ctrl) is held.
    alt: bool,
    /// The serial of the last focus request applied.
    applied: Option<u64>,
}

/// Run `op` over every widget of `content`.
fn operate(
    content: &mut Element<'_, Message>,
    tree: &mut Tree,
    layout: Layout<'_>,
    renderer: &iced::Renderer,
    op: &mut dyn Operation,
) {
    content.as_widget_mut().operate(tree, layout, renderer, op);
}

/// Visits every focusable widget: counts them, notes the focused one, and focuses the one at
/// `target` (unfocusing the others) when set.
struct Focuser {
    target: Option<FocusTarget>,
    index: usize,
    focused: Option<usize>,
    /// Only these ids count (a dialog is open); the others lose the focus.
    only: Option<&'static [&'static str]>,
}

enum FocusTarget {
    Index(usize),
    Id(widget::Id),
    Nothing,
}

impl Operation for Focuser {
    fn focusable(
        &mut self,
        id: Option<&widget::Id>,
        _bounds: Rectangle,
        state: &mut dyn Focusable,
    ) {
        if let Some(only) = self.only {
            if !only.iter().any(|o| id == Some(&widget::Id::new(o))) {
                if matches!(self.target, Some(FocusTarget::Index(_))) {
                    state.unfocus();
                }
                return;
            }
        }
        if state.is_focused() {
            self.focused = Some(self.index);
        }
        match &self.target {
            None => {}
            Some(FocusTarget::Index(i)) if *i == self.index => state.focus(),
            Some(FocusTarget::Id(t)) if Some(t) == id => state.focus(),
            Some(_) => state.unfocus(),
        }
        self.index += 1;
    }

    fn traverse(&mut self, operate: &mut dyn FnMut(&mut dyn Operation)) {
        operate(self);
    }
}

impl Keys<'_> {
    /// Tab / Shift+Tab: the next (previous) focusable widget, wrapping around.
    fn cycle(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &iced::Renderer,
        forward: bool,
    ) {
        let mut count = Focuser {
            target: None,
            index: 0,
            focused: None,
            only: self.modal,
        };
        operate(&mut self.content, tree, layout, renderer, &mut count);
        let total = count.index;
        if total == 0 {
            return;
        }
        let next = match (count.focused, forward) {
            (Some(i), true) => (i + 1) % total,
            (Some(i), false) => (i + total - 1) % total,
            (None, true) => 0,
            (None, false) => total - 1,
        };
        let mut focus = Focuser {
            target: Some(FocusTarget::Index(next)),
            index: 0,
            focused: None,
            only: self.modal,
        };
        operate(&mut self.content, tree, layout, renderer, &mut focus);
    }
}

impl Widget<Message, Theme, iced::Renderer> for Keys<'_> {
    fn tag(&self) -> tree::Tag {
        tree::Tag::of::<State>()
    }

    fn state(&self) -> tree::State {
        tree::State::new(State::default())
    }

    fn children(&self) -> Vec<Tree> {
        vec![Tree::new(&self.content)]
    }

    fn diff(&self, tree: &mut Tree) {
        tree.diff_children(std::slice::from_ref(&self.content));
    }

    fn size(&self) -> Size<Length> {
        self.content.as_widget().size()
    }

    fn layout(
        &mut self,
        tree: &mut Tree,
        renderer: &iced::Renderer,
        limits: &layout::Limits,
    ) -> layout::Node {
        let node = self
            .content
            .as_widget_mut()
            .layout(&mut tree.children[0], renderer, limits);
        let state = tree.state.downcast_mut::<State>();
        if state.applied != Some(self.focus.serial) {
            state.applied = Some(self.focus.serial);
            let mut op = Focuser {
                target: Some(match self.focus.target {
                    Some(id) => FocusTarget::Id(widget::Id::new(id)),
                    None => FocusTarget::Nothing,
                }),
                index: 0,
                focused: None,
                only: None,
            };
            operate(
                &mut self.content,
                &mut tree.children[0],
                Layout::new(&node),
                renderer,
                &mut op,
            );
        }
        node
    }

    fn operate(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &iced::Renderer,
        operation: &mut dyn Operation,
    ) {
        operate(
            &mut self.content,
            &mut tree.children[0],
            layout,
            renderer,
            operation,
        );
    }

    fn update(
        &mut self,
        tree: &mut Tree,
        event: &Event,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        renderer: &iced::Renderer,
        clipboard: &mut dyn Clipboard,
        shell: &mut Shell<'_, Message>,
        viewport: &Rectangle,
    ) {
        let state = tree.state.downcast_mut::<State>();
        match event {
            Event::Keyboard(keyboard::Event::ModifiersChanged(m)) => {
                state.alt = m.alt() && !m.control();
            }
            Event::Keyboard(k @ keyboard::Event::KeyPressed { key, modifiers, .. }) => {
                state.alt = modifiers.alt() && !modifiers.control();
                if let Some(c) = shortcut(k) {
                    shell.publish(Message::Shortcut(c));
                    shell.capture_event();
                    return;
                }
                if key.as_ref() == Key::Named(Named::Escape) {
                    shell.publish(Message::Escape);
                    shell.capture_event();
                    return;
                }
            }
            Event::InputMethod(iced::advanced::input_method::Event::Commit(_)) if state.alt => {
                shell.capture_event();
                return;
            }
            _ => {}
        }
        self.content.as_widget_mut().update(
            &mut tree.children[0],
            event,
            layout,
            cursor,
            renderer,
            clipboard,
            shell,
            viewport,
        );
        if shell.is_event_captured() {
            return;
        }
        if let Event::Keyboard(keyboard::Event::KeyPressed { key, modifiers, .. }) = event {
            match key.as_ref() {
                Key::Named(Named::Tab) if !modifiers.control() && !modifiers.alt() => {
                    self.cycle(&mut tree.children[0], layout, renderer, !modifiers.shift());
                    shell.capture_event();
                    shell.request_redraw();
                }
                Key::Named(Named::Enter) if modifiers.is_empty() => {
                    shell.publish(Message::Enter);
                    shell.capture_event();
                }
                _ => {}
            }
        }
    }

    fn mouse_interaction(
        &self,
        tree: &Tree,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        viewport: &Rectangle,
        renderer: &iced::Renderer,
    ) -> mouse::Interaction {
        self.content.as_widget().mouse_interaction(
            &tree.children[0],
            layout,
            cursor,
            viewport,
            renderer,
        )
    }

    fn draw(
        &self,
        tree: &Tree,
        renderer: &mut iced::Renderer,
        theme: &Theme,
        style: &renderer::Style,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        viewport: &Rectangle,
    ) {
        self.content.as_widget().draw(
            &tree.children[0],
            renderer,
            theme,
            style,
            layout,
            cursor,
            viewport,
        );
    }

    fn overlay<'b>(
        &'b mut self,
        tree: &'b mut Tree,
        layout: Layout<'b>,
        renderer: &iced::Renderer,
        viewport: &Rectangle,
        translation: Vector,
    ) -> Option<overlay::Element<'b, Message, Theme, iced::Renderer>> {
        self.content.as_widget_mut().overlay(
            &mut tree.children[0],
            layout,
            renderer,
            viewport,
            translation,
        )
    }
}

impl<'a> From<Keys<'a>> for Element<'a, Message> {
    fn from(k: Keys<'a>) -> Self {
        Element::new(k)
    }
}
