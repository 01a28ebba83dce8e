//! Request body validation (reference §2.2–2.3): an API's models are JSON Schema draft 4
//! documents, compiled once per load; a method whose request validator checks the body
//! validates it against its `application/json` model (else `$default`, else `Empty`). An
//! empty body is validated as `{}`; a body that is not JSON is invalid.

use crate::integrations::Failure;
use crate::responses::GatewayResponseType;
use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where a model of API `{id}` lives for `$ref` (as on API Gateway).
const MODEL_BASE: &str = "https://apigateway.amazonaws.com/restapis/";

/// A compiled model.
pub type Model = Arc<Validator>;

/// The models every API has (reference §2.3).
fn builtin(name: &str) -> Option<Value> {
    let schema = match name {
        "Empty" => {
            r#"{"$schema":"http://json-schema.org/draft-04/schema#","title":"Empty Schema","type":"object"}"#
        }
        "Error" => {
            r#"{"$schema":"http://json-schema.org/draft-04/schema#","title":"Error Schema","type":"object","properties":{"message":{"type":"string"}}}"#
        }
        _ => return None,
    };
    serde_json::from_str(schema).ok()
}

/// Resolves `$ref`s to the API's other models; nothing is ever fetched.
struct ApiModels {
    prefix: String,
    models: BTreeMap<String, Value>,
}

impl Retrieve for ApiModels {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix(self.prefix.as_str())
            .map(|n| n.split('#').next().unwrap_or(n))
            .ok_or_else(|| format!("`{}` is not a model of this API", uri.as_str()))?;
        self.models
            .get(name)
            .cloned()
            .or_else(|| builtin(name))
            .ok_or_else(|| format!("unknown model `{name}`").into())
    }
}

/// Compiles every model of API `api_id` (plus `Empty` and `Error`). Errors name the model.
pub fn compile_models(
    api_id: &str,
    models: &BTreeMap<String, Value>,
) -> Result<HashMap<String, Model>, Vec<(String, String)>> {
    let prefix = format!("{MODEL_BASE}{api_id}/models/");
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    let builtins = ["Empty", "Error"]
        .into_iter()
        .filter(|n| !models.contains_key(*n))
        .filter_map(|n| Some((n.to_string(), builtin(n)?)));
    let all: Vec<(String, Value)> = models
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(builtins)
        .collect();
    for (name, schema) in all {
        let retriever = ApiModels {
            prefix: prefix.clone(),
            models: models.clone(),
        };
        let built = jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_base_uri(format!("{prefix}{name}"))
            .with_retriever(retriever)
            .build(&schema);
        match built {
            Ok(v) => {
                out.insert(name, Arc::new(v));
            }
            Err(e) => errors.push((name, format!("invalid model schema: {e}"))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The model a body validator uses: `application/json`, else `$default`, else `Empty`.
pub fn body_model_name(request_models: &BTreeMap<String, String>) -> &str {
    request_models
        .get("application/json")
        .or_else(|| request_models.get("$default"))
        .map_or("Empty", String::as_str)
}

/// Validates a request body against `model`: 400 `Invalid request body` when it is not JSON
/// or does not match.
pub fn validate_body(model: &Validator, body: &[u8]) -> Result<(), Failure> {
    let invalid = || Failure {
        kind: GatewayResponseType::BadRequestBody,
        message: Some("Invalid request body".into()),
    };
    let doc: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|_| invalid())?
    };
    if model.is_valid(&doc) {
        Ok(())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models(yaml: &str) -> BTreeMap<String, Value> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn required_properties_and_empty_body() {
        let m = compile_models(
            "api",
            &models(
                "testSchema: {type: object, properties: {a: {type: number}, b: {type: number}}, required: [a, b]}",
            ),
        )
        .unwrap();
        let v = &m["testSchema"];
        assert!(validate_body(v, br#"{"a":1,"b":2}"#).is_ok());
        // TV-7: a GET without a body is validated as {} and fails `required`.
        let e = validate_body(v, b"").unwrap_err();
        assert_eq!(e.kind, GatewayResponseType::BadRequestBody);
        assert_eq!(e.message.as_deref(), Some("Invalid request body"));
        assert!(validate_body(v, br#"{"a":"x","b":2}"#).is_err());
        assert!(validate_body(v, b"not json").is_err());
        // Empty accepts any object, including the empty body.
        assert!(validate_body(&m["Empty"], b"").is_ok());
        assert!(validate_body(&m["Empty"], b"[1]").is_err());
    }

    #[test]
    fn draft4_exclusive_minimum_and_refs_between_models() {
        let m = compile_models(
            "pets",
            &models(
                r#"
                Price: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 500}
                Pet:
                  type: object
                  required: [price]
                  properties:
                    price: {$ref: "https://apigateway.amazonaws.com/restapis/pets/models/Price"}
                    type: {type: string, enum: [dog, cat, fish]}
                "#,
            ),
        )
        .unwrap();
        let v = &m["Pet"];
        assert!(validate_body(v, br#"{"type":"dog","price":249.99}"#).is_ok());
        assert!(validate_body(v, br#"{"type":"bird","price":249.99}"#).is_err());
        assert!(validate_body(v, br#"{"type":"dog","price":0}"#).is_err());
        assert!(validate_body(v, br#"{"type":"dog","price":501}"#).is_err());
    }

    #[test]
    fn bad_schemas_are_named() {
        let errs = compile_models(
            "api",
            &models("Good: {type: object}\nBad: {type: 12}\nDangling: {$ref: \"https://apigateway.amazonaws.com/restapis/api/models/Nope\"}"),
        )
        .unwrap_err();
        let names: Vec<&str> = errs.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"Bad"), "{errs:?}");
        assert!(names.contains(&"Dangling"), "{errs:?}");
        assert!(!names.contains(&"Good"));
    }

    #[test]
    fn model_choice() {
        let mut rm = BTreeMap::new();
        assert_eq!(body_model_name(&rm), "Empty");
        rm.insert("$default".to_string(), "D".to_string());
        assert_eq!(body_model_name(&rm), "D");
        rm.insert("application/json".to_string(), "J".to_string());
        assert_eq!(body_model_name(&rm), "J");
    }
}
