pub mod sigv4;
pub mod verify;
