//! Which framework adapter a test case runs on: the tower layer or the
//! actix-web middleware. One case body runs on both ([`on_both_adapters!`](crate::on_both_adapters!));
//! [`App`](crate::App) and the Rust conformance server ([`node`](crate::node))
//! read the case's adapter from here.

/// The framework adapter a case runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// The tower layer, on axum (`conformance_server`).
    Tower,
    /// The actix-web middleware (`actix_conformance_server`).
    Actix,
}

impl Adapter {
    /// `tower` or `actix`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Adapter::Tower => "tower",
            Adapter::Actix => "actix",
        }
    }
}

tokio::task_local! {
    static ADAPTER: Adapter;
}

/// Runs `case` with its servers on `adapter`.
pub async fn on_adapter<F: std::future::Future>(adapter: Adapter, case: F) -> F::Output {
    ADAPTER.scope(adapter, case).await
}

/// The adapter of the case running on this task (tower outside
/// [`on_adapter`]).
pub fn adapter() -> Adapter {
    ADAPTER
        .try_with(|adapter| *adapter)
        .unwrap_or(Adapter::Tower)
}

/// Generates, for each case, a module with one test per adapter:
/// `<case>::tower` and `<case>::actix`, each running the same body.
#[macro_export]
macro_rules! on_both_adapters {
    ($($(#[doc = $doc:literal])* #[tokio::test $($flavor:tt)*] async fn $name:ident() $body:block)*) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn case() $body

                #[tokio::test $($flavor)*]
                async fn tower() {
                    $crate::adapter::on_adapter($crate::adapter::Adapter::Tower, case()).await
                }

                #[tokio::test $($flavor)*]
                async fn actix() {
                    $crate::adapter::on_adapter($crate::adapter::Adapter::Actix, case()).await
                }
            }
        )*
    };
}
