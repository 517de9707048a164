//! The value templates' tests (kept apart from `template.rs`, which stays
//! a readable size).

use super::*;

#[test]
fn template_syntax_is_found_anywhere_and_only_as_a_pair() {
    for s in ["{{ customer }}", "x{%", "{#", "a{b{{", "}{{"] {
        assert!(is_template(s), "{s}");
    }
    for s in ["", "{", "{ {", "x{", "}}", "%}", "{x}{y}"] {
        assert!(!is_template(s), "{s}");
    }
}

fn ctx() -> serde_json::Value {
    serde_json::json!({"environment": "staging", "customer": "acme", "project_name": "shop", "repo": "acme/infra"})
}

#[test]
fn a_memo_gives_what_rendering_gives_and_forgets_on_a_new_context() {
    let t = ValueTemplates::default();
    let mut memo = TemplateMemo::new(&t);
    let other = serde_json::json!({"environment": "production", "customer": "zeta"});
    for source in [
        "{{ customer }}-{{ environment }}",
        "{{ nope }}",
        "{{ customer | upper }}",
    ] {
        for c in [ctx(), ctx(), other.clone(), ctx()] {
            let want = t.render(source, &c).map_err(|e| e.0);
            assert_eq!(
                memo.render(source, &c).map_err(|e| e.0),
                want,
                "{source} {c}"
            );
        }
    }
    assert_eq!(memo.render("{{ customer }}", &other).unwrap(), "zeta");
    assert_eq!(memo.out.len(), 1, "a new context starts afresh");
}

/// Templates compiled once render exactly as from their source, and
/// what the sandbox refuses is refused the same way.
#[test]
fn a_known_template_renders_as_its_source_does() {
    let sources = [
        "{{ customer }}-{{ environment }}",
        "{{ customer | upper }}{% if repo %} {{ repo }}{% endif %}",
        "{{ nope }}",
        "{{ $labels.instance }}",
        "{% include 'x' %}",
        "{{ 'x' * 3 }}",
        "{{ customer | nofilter }}",
        "{{ project_name | replace('o', 'oooooooooo') | replace('o', 'oooooooooo') | replace('o', 'oooooooooo') }}",
    ];
    let values = serde_json::json!({"a": sources[..4], "b": {"c": sources[4..]}});
    let known = ValueTemplates::default().knowing([&values]);
    let compiled = known.known.as_ref().map_or(0, |k| k.templates().count());
    assert_eq!(compiled, 5, "the ones the sandbox accepts and that compile");
    let plain = ValueTemplates::default();
    for source in sources
        .iter()
        .chain(&["{{ customer }}", "{{ 'not known' }}"])
    {
        for c in [ctx(), serde_json::json!({"customer": "zeta"})] {
            assert_eq!(
                known.render(source, &c).map_err(|e| e.0),
                plain.render(source, &c).map_err(|e| e.0),
                "{source} {c}"
            );
        }
    }
}

#[test]
fn another_tools_template_is_refused_with_the_way_to_write_it_literally() {
    let t = ValueTemplates::default();
    let ctx = ctx();
    for text in [
        "{{ $labels.instance }} is down",
        r#"{{ printf "%.2f" $value }} o'clock \ {{"#,
    ] {
        let e = t.render(text, &ctx).unwrap_err().0;
        let hint = e
            .rsplit_once("write it as a template that outputs it: ")
            .unwrap()
            .1;
        assert!(e.starts_with("template syntax error"), "{e}");
        assert_eq!(t.render(hint, &ctx).unwrap(), text, "{hint}");
    }
}

#[test]
fn strict_and_bounded() {
    let t = ValueTemplates::default();
    let ctx = ctx();
    assert_eq!(t.render("{{ environment }}", &ctx).unwrap(), "staging");
    assert!(t
        .render("{{ nope }}", &ctx)
        .unwrap_err()
        .0
        .contains("undefined"));
    assert!(t.render("{% include 'x' %}", &ctx).is_err());
    let e = t
        .render("{% for i in range(100000) %}{{ i }}{% endfor %}", &ctx)
        .unwrap_err();
    assert!(e.0.contains("`{% for %}` is not available"), "{e}");
    let e = t.render("{{ 'x' * 1000000 }}", &ctx).unwrap_err();
    assert!(e.0.contains("`*`"), "{e}");
}

#[test]
fn what_customers_use_still_works() {
    let t = ValueTemplates::default();
    let ctx = ctx();
    for (src, want) in [
        ("{{ customer }}-{{ environment }}", "acme-staging"),
        (
            "arn:aws:s3:::{{ customer }}-logs/*",
            "arn:aws:s3:::acme-logs/*",
        ),
        ("{{ customer | upper }}", "ACME"),
        ("{{ project_name | replace('-', '_') }}", "shop"),
        (
            "{% if environment == 'production' %}m5.large{% else %}t3.micro{% endif %}",
            "t3.micro",
        ),
        (
            "{%- if environment is startingwith 'stag' -%} yes {%- endif %}",
            "yes",
        ),
        ("{{ 'a*b' }}{# a * comment #}", "a*b"),
        ("{{ {'k': {'n': 'v'}}['k']['n'] }}", "v"),
        ("{{ repo ~ '/' ~ customer }}", "acme/infra/acme"),
        ("{{ missing | default('x') }}", "x"),
    ] {
        assert_eq!(t.render(src, &ctx).unwrap(), want, "{src}");
    }
}

#[test]
fn bombs_are_refused_before_they_run() {
    let t = ValueTemplates::default();
    let ctx = ctx();
    let cases = [
        ("{{ 'x' * 99999999 }}", "`*`"),
        ("{{ 2 ** 4096 }}", "`*`"),
        ("{{ [customer] * 99999999 | length }}", "`*`"),
        ("{{ {'a': {'b': 'x'}}['a']['b'] * 9 }}", "`*`"),
        ("{{ (('x')) * 9 }}", "`*`"),
        ("{{ 'a}}' ~ 'x' * 9 }}", "`*`"),
        ("{%- set a = 'xxxxxxxxxx' %}{% set a = a ~ a %}{{ a }}", "`{% set %}`"),
        ("{% for i in range(99999) %}{{ customer }}{% endfor %}", "`{% for %}`"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "`{% macro %}`"),
        ("{% with a = 1 %}{% endwith %}", "`{% with %}`"),
        ("{% filter upper %}x{% endfilter %}", "`{% filter %}`"),
        ("{% raw %}{{ 'x' * 9 }}{% endraw %}", "`{% raw %}`"),
        ("{% extends 'x' %}", "`{% extends %}`"),
        ("{% import 'x' as y %}", "`{% import %}`"),
        ("{{ range(99999999) | length }}", "function"),
        ("{{ namespace() }}", "function"),
        ("{{ customer | join('x') }}", "filter"),
        ("{{ customer | center(999999999) }}", "filter"),
        ("{{ customer | indent(999999999) }}", "filter"),
        ("{{ '%999999999s' | format('x') }}", "filter"),
        ("{{ 'aaaa' | replace('a', 'aaaaaaaaaa') | replace('a', 'aaaaaaaaaa') | replace('a', 'aaaaaaaaaa') | replace('a', 'aaaaaaaaaa') }}", "`replace` would grow"),
        ("{{ customer | replace('', 'xxxxxxxxxxxxxxxx') | replace('', 'xxxxxxxxxxxxxxxxxxxxxxx') | replace('', 'xxxxxxxxxxxxxxxxxxxxxx') }}", "`replace` would grow"),
    ];
    for (src, want) in cases {
        let e = t.render(src, &ctx).unwrap_err();
        assert!(e.0.contains(want), "{src}: {e}");
    }
    let long = format!("{{{{ customer }}}}{}", "x".repeat(VALUE_MAX_SOURCE));
    assert!(t.render(&long, &ctx).unwrap_err().0.contains("limit"));
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(2000), ")".repeat(2000));
    assert!(t.render(&deep, &ctx).is_err());
}

#[test]
fn output_is_capped_while_writing() {
    let t = ValueTemplates::default();
    let ctx = serde_json::json!({"project_name": "p".repeat(256)});
    let refs = vec!["project_name"; 500].join(" ~ ");
    let src = format!("{{{{ {refs} }}}}");
    assert!(src.len() <= VALUE_MAX_SOURCE);
    let e = t.render(&src, &ctx).unwrap_err();
    assert!(e.0.contains("more than the limit"), "{e}");
}

/// The literal parts of a template: text outside tags, string literals
/// and comments, and text and literals joined in order.
#[test]
fn static_text_splits_a_template_like_the_lexer() {
    let t = static_text("a-{{ 'b' ~ \"c}}\" }}{# d #}{% if x == 'e' %}f{% endif %}{{ 'g");
    assert_eq!(t.text, "a-f 'g");
    assert_eq!(t.pieces, ["b", "c}}", "d", "e"]);
    assert_eq!(static_text("{#- x -#}{#+y#}").pieces, ["x", "y"]);
    assert_eq!(t.joined, "a-bc}}ef 'g");
    let t = static_text("{{ {'k': 'v'}['k'] }}tail");
    assert_eq!((t.text.as_str(), t.joined.as_str()), ("tail", "kvktail"));
    assert_eq!(static_text("plain").text, "plain");
    // Multi-byte text around and inside tags never splits a character.
    let t = static_text("é{{ 'ü\\é' }}ß{% if 'ñ' %}");
    assert_eq!(t.text, "éß");
    assert_eq!(t.pieces, ["ü\\é", "ñ"]);
}
