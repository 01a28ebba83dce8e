//! Mapping-template rendering: AWS's PetStore "pets" response template over the sample
//! payload (3 pets) and over 100 pets, the same with a few `$context` variables, and the
//! all-parameters passthrough request template.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::borrow::Cow;
use tollgate::vtl::{Overrides, Template, TemplateContext};

const PETS: &str = r#"#set($inputRoot = $input.path('$'))
[
#foreach($elem in $inputRoot)
  {
    "description" : "Item $elem.id is a $elem.type.",
    "askingPrice" : $elem.price
  }#if($foreach.hasNext),#end

#end
]"#;

const PETS_CONTEXT: &str = r#"#set($inputRoot = $input.path('$'))
{
  "stage" : "$context.stage",
  "sourceIp" : "$context.identity.sourceIp",
  "pets" : [
#foreach($elem in $inputRoot)
    {
      "description" : "Item $elem.id is a $elem.type.",
      "askingPrice" : $elem.price
    }#if($foreach.hasNext),#end

#end
  ]
}"#;

const PARAMS: &str = r#"#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  },
  "body" : $input.json('$'),
  "requestId" : "$context.requestId"
}"#;

struct Ctx {
    body: String,
    params: Vec<(&'static str, &'static str, &'static str)>,
}

impl Ctx {
    fn find(&self, kind: Option<&str>, name: &str) -> Option<&'static str> {
        self.params
            .iter()
            .find(|(k, n, _)| kind.is_none_or(|kind| kind == *k) && n.eq_ignore_ascii_case(name))
            .map(|(_, _, v)| *v)
    }
}

/// A request start time in milliseconds since the epoch.
const START_MS: u64 = 1_428_582_896_000;

impl TemplateContext for Ctx {
    /// Roughly what the request pipeline answers, including the computed values.
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        let b = Cow::Borrowed;
        match path {
            "requestId" => Some(b("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")),
            "extendedRequestId" => Some(b("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")),
            "apiId" => Some(b("abc123")),
            "accountId" => Some(b("123456789012")),
            "stage" => Some(b("prod")),
            "httpMethod" => Some(b("GET")),
            "resourcePath" => Some(b("/pets")),
            "path" => Some(b("/prod/pets")),
            "protocol" => Some(b("HTTP/1.1")),
            "domainName" => self.find(Some("header"), "host").map(b),
            "domainPrefix" => self
                .find(Some("header"), "host")
                .and_then(|h| h.split('.').next())
                .map(b),
            "requestTime" => {
                let secs = black_box(START_MS) / 1000;
                Some(Cow::Owned(format!(
                    "{:02}/Apr/2015:{:02}:{:02}:{:02} +0000",
                    9,
                    secs / 3600 % 24,
                    secs / 60 % 60,
                    secs % 60
                )))
            }
            "requestTimeEpoch" => Some(Cow::Owned(black_box(START_MS).to_string())),
            "identity.sourceIp" => Some(Cow::Owned(
                std::net::Ipv4Addr::new(203, 0, 113, 9).to_string(),
            )),
            "identity.userAgent" => self.find(Some("header"), "user-agent").map(b),
            _ => None,
        }
    }
    fn stage_var(&self, _name: &str) -> Option<&str> {
        None
    }
    fn input_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.find(None, name).map(Cow::Borrowed)
    }
    fn input_param_in(&self, kind: &str, name: &str) -> Option<Cow<'_, str>> {
        self.find(Some(kind), name).map(Cow::Borrowed)
    }
    fn input_body(&self) -> &str {
        &self.body
    }
    fn input_params_all(&self, kind: &str) -> Vec<(String, String)> {
        self.params
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, n, v)| (n.to_string(), v.to_string()))
            .collect()
    }
}

fn pets(n: usize) -> String {
    let kinds = ["dog", "cat", "fish"];
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id": {}, "type": "{}", "price": {}.99}}"#,
                i + 1,
                kinds[i % 3],
                100 + i
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn bench(c: &mut Criterion) {
    let params = vec![
        ("path", "petId", "1"),
        ("querystring", "type", "dog"),
        ("querystring", "page", "2"),
        ("header", "Accept", "application/json"),
        ("header", "User-Agent", "curl/8.5.0"),
        (
            "header",
            "Host",
            "abc123.execute-api.us-east-1.amazonaws.com",
        ),
    ];
    let pets_template = Template::parse(PETS).expect("pets template parses");
    let pets_context_template =
        Template::parse(PETS_CONTEXT).expect("pets context template parses");
    let params_template = Template::parse(PARAMS).expect("params template parses");
    for (name, template, body) in [
        ("pets_3", &pets_template, pets(3)),
        ("pets_100", &pets_template, pets(100)),
        ("pets_3_context", &pets_context_template, pets(3)),
        ("params_passthrough", &params_template, pets(3)),
    ] {
        let ctx = Ctx {
            body,
            params: params.clone(),
        };
        let mut out = String::with_capacity(16 * 1024);
        c.bench_function(&format!("vtl_render_{name}"), |b| {
            b.iter(|| {
                out.clear();
                let mut overrides = Overrides::default();
                template
                    .render(black_box(&ctx), &mut overrides, &mut out)
                    .expect("renders");
                black_box(out.len())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
