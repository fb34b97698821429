//! Keyboard focus for the controls iced 0.14 cannot focus (buttons, check boxes, radios; its
//! issues #489 and #3088): [`Focus`] wraps one of them, takes part in Tab's walk through the
//! focusable widgets ([`super::keys`]) with an id, draws a focus ring around it while focused,
//! and on Space or Enter publishes the message a click would. A click on it focuses it; a
//! click elsewhere drops the focus. Nothing else: the wrapped widget keeps its own look and
//! mouse handling, and no state beyond "focused" lives here.

use iced::advanced::layout::{self, Layout};
use iced::advanced::widget::operation::focusable::Focusable;
use iced::advanced::widget::{self as widget, tree, Operation, Tree, Widget};
use iced::advanced::{mouse, overlay, renderer, Clipboard, Shell};
use iced::keyboard::{self, key::Named, Key};
use iced::{Element, Event, Length, Rectangle, Size, Theme, Vector};

/// Make `content` focusable as `id`; Space/Enter while focused publish `on_activate`
/// (`None`: disabled, skipped by nothing but inert).
pub fn focusable<'a, M: Clone + 'a>(
    id: &'static str,
    content: impl Into<Element<'a, M>>,
    on_activate: Option<M>,
) -> Element<'a, M> {
    Element::new(Focus {
        id: widget::Id::new(id),
        content: content.into(),
        on_activate,
    })
}

struct Focus<'a, M> {
    id: widget::Id,
    content: Element<'a, M>,
    on_activate: Option<M>,
}

#[derive(Default)]
struct State {
    focused: bool,
}

impl Focusable for State {
    fn is_focused(&self) -> bool {
        self.focused
    }
    fn focus(&mut self) {
        self.focused = true;
    }
    fn unfocus(&mut self) {
        self.focused = false;
    }
}

impl<M: Clone> Widget<M, Theme, iced::Renderer> for Focus<'_, M> {
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
        self.content
            .as_widget_mut()
            .layout(&mut tree.children[0], renderer, limits)
    }

    fn operate(
        &mut self,
        tree: &mut Tree,
        layout: Layout<'_>,
        renderer: &iced::Renderer,
        operation: &mut dyn Operation,
    ) {
        let state = tree.state.downcast_mut::<State>();
        operation.focusable(Some(&self.id), layout.bounds(), state);
        self.content
            .as_widget_mut()
            .operate(&mut tree.children[0], layout, renderer, operation);
    }

    fn update(
        &mut self,
        tree: &mut Tree,
        event: &Event,
        layout: Layout<'_>,
        cursor: mouse::Cursor,
        renderer: &iced::Renderer,
        clipboard: &mut dyn Clipboard,
        shell: &mut Shell<'_, M>,
        viewport: &Rectangle,
    ) {
        let state = tree.state.downcast_mut::<State>();
        match event {
            Event::Mouse(mouse::Event::ButtonPressed(mouse::Button::Left)) => {
                state.focused = cursor.is_over(layout.bounds());
            }
            Event::Keyboard(keyboard::Event::KeyPressed { key, modifiers, .. })
                if state.focused && modifiers.is_empty() =>
            {
                if matches!(key.as_ref(), Key::Named(Named::Space | Named::Enter)) {
                    if let Some(m) = &self.on_activate {
                        shell.publish(m.clone());
                    }
                    shell.capture_event();
                    return;
                }
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
        if tree.state.downcast_ref::<State>().focused {
            use iced::advanced::Renderer as _;
            let b = layout.bounds().expand(2.0);
            renderer.fill_quad(
                renderer::Quad {
                    bounds: b,
                    border: iced::Border {
                        color: theme.extended_palette().primary.strong.color,
                        width: 2.0,
                        radius: 5.0.into(),
                    },
                    ..renderer::Quad::default()
                },
                iced::Color::TRANSPARENT,
            );
        }
    }

    fn overlay<'b>(
        &'b mut self,
        tree: &'b mut Tree,
        layout: Layout<'b>,
        renderer: &iced::Renderer,
        viewport: &Rectangle,
        translation: Vector,
    ) -> Option<overlay::Element<'b, M, Theme, iced::Renderer>> {
        self.content.as_widget_mut().overlay(
            &mut tree.children[0],
            layout,
            renderer,
            viewport,
            translation,
        )
    }
}
