pub mod access;
pub mod arn;
pub mod iam;
pub mod policy;
pub mod sigv4;
pub mod verify;
