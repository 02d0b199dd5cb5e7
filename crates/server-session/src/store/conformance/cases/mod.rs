//! The cases, one module per part of the store contract. Each takes the
//! harness, gets its own store from it, and panics with a message that
//! names the case when the store breaks the contract.

mod compare_and_set;
mod concurrency;
mod contents;
mod destroy;
mod lifetimes;
mod listing;
mod load_save;
mod run;
mod touch;
mod unreachable;
mod users;

pub use self::compare_and_set::*;
pub use self::concurrency::*;
pub use self::contents::*;
pub use self::destroy::*;
pub use self::lifetimes::*;
pub use self::listing::*;
pub use self::load_save::*;
pub use self::touch::*;
pub use self::unreachable::*;
pub use self::users::*;
