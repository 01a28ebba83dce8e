//! The view of an integration response that integration response mappings and templates
//! read: the method request as before, with `$input` and `integration.response.*` now
//! meaning the backend's response.

use crate::mapping::{Location, Values};
use crate::vtl::TemplateContext;
use std::borrow::Cow;

/// A method request view `R` seen together with an integration response.
pub struct IntegrationView<'a, R> {
    pub request: &'a R,
    /// The backend's headers (none for MOCK).
    pub headers: Option<&'a http::HeaderMap>,
    pub body: &'a str,
}

impl<R: Values> Values for IntegrationView<'_, R> {
    fn request_param(&self, loc: Location, name: &str) -> Option<Cow<'_, str>> {
        self.request.request_param(loc, name)
    }
    fn request_body(&self) -> &str {
        self.request.request_body()
    }
    fn query_param_values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.request.query_param_values(name)
    }
    fn stage_variable(&self, name: &str) -> Option<&str> {
        self.request.stage_variable(name)
    }
    fn context_variable(&self, path: &str) -> Option<Cow<'_, str>> {
        self.request.context_variable(path)
    }
    fn integration_header(&self, name: &str, multivalue: bool) -> Option<Cow<'_, str>> {
        let mut values = self
            .headers?
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok());
        if multivalue {
            let all: Vec<&str> = values.collect();
            (!all.is_empty()).then(|| Cow::Owned(all.join(",")))
        } else {
            values.next_back().map(Cow::Borrowed)
        }
    }
    fn integration_body(&self) -> Option<&str> {
        Some(self.body)
    }
}

impl<R: TemplateContext> TemplateContext for IntegrationView<'_, R> {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        self.request.context_var(path)
    }
    fn stage_var(&self, name: &str) -> Option<&str> {
        self.request.stage_var(name)
    }
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.request.input_param(name)
    }
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        self.request.input_param_in(kind, name)
    }
    fn input_body(&self) -> &str {
        self.body
    }
    fn input_params_all(&self, kind: &str) -> Vec<(String, String)> {
        self.request.input_params_all(kind)
    }
    fn stage_vars(&self) -> Vec<(String, String)> {
        self.request.stage_vars()
    }
    fn authorizer_vars(&self) -> Vec<(String, String)> {
        self.request.authorizer_vars()
    }
}
