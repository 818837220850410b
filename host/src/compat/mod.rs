//! Compatibility of components with what a host expects: a component's world decoded
//! ([`inspect`]), extension points and the check of a component against one
//! ([`extension_point`]), what its imports could reach against its grants ([`capability_use`]), and
//! WIT types written out for messages and checked against values ([`wit_type`]).

pub(crate) mod capability_use;
pub(crate) mod extension_point;
pub(crate) mod inspect;
pub(crate) mod wit_type;
