//! Compatibility of components with what a host expects: a component's world decoded
//! ([`inspect`]), extension points and the check of a component against one
//! ([`extension_point`]), and WIT types written out for messages ([`wit_type`]).

pub(crate) mod extension_point;
pub(crate) mod inspect;
pub(crate) mod wit_type;
