//! Mapping-template rendering: AWS's PetStore "pets" response template over the sample
//! payload (3 pets) and over 100 pets, and the all-parameters passthrough request template.

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

impl TemplateContext for Ctx {
    fn context_var(&self, path: &str) -> Option<Cow<'_, str>> {
        match path {
            "requestId" => Some(Cow::Borrowed("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")),
            "stage" => Some(Cow::Borrowed("prod")),
            "httpMethod" => Some(Cow::Borrowed("GET")),
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
    let params_template = Template::parse(PARAMS).expect("params template parses");
    for (name, template, body) in [
        ("pets_3", &pets_template, pets(3)),
        ("pets_100", &pets_template, pets(100)),
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
