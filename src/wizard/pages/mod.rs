//! The wizard's pages, one module each. A page takes its own `Message`s and tells the app what
//! to do next with an `Event` (the pattern of halloy); the app owns the shared form, the
//! order of pages and every side effect. Pages never do I/O themselves.

pub mod apply;
pub mod compliance;
pub mod connect;
pub mod done;
pub mod notification;
pub mod options;
pub mod proxy;
pub mod server;
pub mod server_type;
pub mod service_account;
pub mod summary;
pub mod welcome;
