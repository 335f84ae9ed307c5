//! The update listener with the gate applied: updates the gate refuses never
//! reach the dispatcher (`Dispatch::run` takes this listener).

use std::sync::Arc;

use futures_util::{StreamExt, future, stream::BoxStream};
use teloxide::{
    stop::StopToken,
    types::{AllowedUpdate, Update},
    update_listeners::{AsUpdateStream, UpdateListener},
};

use super::gate::Gate;

impl Gate {
    /// `listener` with this gate applied to its updates.
    pub fn wrap<L>(self: &Arc<Self>, listener: L) -> Gated<L> {
        Gated { inner: listener, gate: self.clone() }
    }
}

/// An update listener whose updates pass the gate first.
pub struct Gated<L> {
    inner: L,
    gate: Arc<Gate>,
}

impl<L> UpdateListener for Gated<L>
where
    L: UpdateListener,
    L::Err: Send + 'static,
{
    type Err = L::Err;

    fn stop_token(&mut self) -> StopToken {
        self.inner.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.inner.hint_allowed_updates(hint)
    }
}

impl<'a, L> AsUpdateStream<'a> for Gated<L>
where
    L: UpdateListener,
    L::Err: Send + 'static,
{
    type StreamErr = L::Err;
    type Stream = BoxStream<'a, Result<Update, L::Err>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let gate = self.gate.clone();
        self.inner
            .as_stream()
            .filter(move |update| future::ready(update.as_ref().map_or(true, |update| gate.admit(update))))
            .boxed()
    }
}
