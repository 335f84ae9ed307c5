use super::*;

fn ratio(width: u8, height: u8) -> Shape {
    Shape { width, height }
}

#[test]
fn the_builtin_catalog_is_in_menu_order() {
    let names: Vec<_> = Catalog::builtin().offered().iter().map(|m| m.name.to_string()).collect();
    // The fake video API lists exactly these, in this order, by default.
    assert_eq!(names, testkit::LISTED_MODELS);
}

#[test]
fn model_names_are_short_plain_ascii() {
    assert!(ModelName::new("veo3.1-fast").is_ok());
    assert!(ModelName::new("org/model:v2_1").is_ok());
    for bad in ["", "a b", "模型", "x\"y", &"a".repeat(41)] {
        assert_eq!(ModelName::new(bad), Err(BadModelName), "{bad:?}");
    }
    assert_eq!(ModelName::new(&"a".repeat(40)).unwrap().as_str().len(), 40);
    assert_eq!(serde_json::to_string(&SORA_2).unwrap(), "\"sora-2\"");
    assert_eq!(serde_json::from_str::<ModelName>("\"veo3.1\"").unwrap().as_str(), "veo3.1");
}

#[test]
fn shapes_parse_as_classes_or_exact_ratios() {
    for s in ["portrait", "p", "vertical", "9:16", "竖屏", "PORTRAIT", " P ", "9：16"] {
        assert_eq!(s.parse(), Ok(ShapeWish::Class(ShapeClass::Tall)), "{s:?}");
    }
    for s in ["landscape", "l", "horizontal", "16:9", "横屏"] {
        assert_eq!(s.parse(), Ok(ShapeWish::Class(ShapeClass::Wide)), "{s:?}");
    }
    for s in ["square", "1:1", "方形"] {
        assert_eq!(s.parse(), Ok(ShapeWish::Class(ShapeClass::Square)), "{s:?}");
    }
    assert_eq!("21:9".parse(), Ok(ShapeWish::Exact(ratio(21, 9))));
    for bad in ["", "4:", ":3", "0:1", "100:1", "4x3", "-4:3", "4:3:2", "tall"] {
        assert_eq!(bad.parse::<ShapeWish>(), Err(BadValue), "{bad:?}");
    }
    // Stored the way rows always held the classic shapes.
    assert_eq!(Shape::PORTRAIT.stored(), "portrait");
    assert_eq!(ratio(4, 3).stored(), "4:3");
    assert_eq!("landscape".parse::<Shape>(), Ok(Shape::LANDSCAPE));
    assert_eq!("3:4".parse::<Shape>(), Ok(ratio(3, 4)));
}

#[test]
fn fitting_keeps_what_the_model_has_and_moves_the_rest() {
    let catalog = Catalog::builtin();
    let grok = catalog.lookup("grok").unwrap();
    assert_eq!(grok.fit_shape(Shape::PORTRAIT), ratio(2, 3));
    assert_eq!(grok.fit_shape(ratio(21, 9)), ratio(3, 2));
    assert_eq!(grok.fit_size(Some(Size::Large)), None);
    let sora = catalog.lookup("sora-2").unwrap();
    assert_eq!(sora.fit_shape(Shape::SQUARE), Shape::PORTRAIT, "no square: the default");
    assert_eq!(sora.fit_duration(None), Some(15));
    assert_eq!(sora.fit_duration(Some(12)), Some(10));
    assert_eq!(sora.fit_duration(Some(25)), Some(15));
    assert_eq!(catalog.lookup("pro").unwrap().fit_duration(Some(20)), Some(15), "a tie costs less");
    assert_eq!(sora.flipped(Shape::PORTRAIT), Some(Shape::LANDSCAPE));
    assert_eq!(grok.flipped(Shape::SQUARE), None);
    let veo = catalog.lookup("veo").unwrap();
    assert_eq!(veo.max_images(4), 1);
    assert_eq!(sora.max_images(4), 4);
    assert_eq!(catalog.lookup("veo3.1-components").unwrap().max_images(2), 2);
}

#[test]
fn pro_is_offered_only_when_its_model_is() {
    let catalog = Catalog::builtin();
    assert_eq!(catalog.pro_of(SORA_2).map(|m| m.name.as_str()), Some("sora-2-pro"));
    assert!(catalog.pro_of(ModelName::fixed("sora-2-pro")).is_none());
    let known = catalog.offered().to_vec();
    let without_pro = Catalog::offering(known, &[SORA_2, ModelName::fixed("veo3.1-fast")]);
    assert!(without_pro.pro_of(SORA_2).is_none());
    assert_eq!(without_pro.offered().len(), 2);
    assert!(without_pro.get(ModelName::fixed("grok-video-3")).is_some(), "known, not offered");
    assert!(without_pro.lookup("grok").is_none());
}

fn apply(text: &str) -> Result<Vec<ModelSpec>, file::FileError> {
    file::apply(Catalog::builtin().offered().to_vec(), text)
}

#[test]
fn a_file_adds_a_model_and_changes_a_builtin_one() {
    let models = apply(
        r#"
        [[model]]
        name = "kling-v2"
        family = "veo"
        label = "Kling 2"
        aliases = ["Kling"]
        shapes = ["9:16", "16:9", "1:1"]
        sizes = ["large"]
        max_images = 1
        cost = 3

        [[model]]
        name = "sora-2-pro"
        cost = 2
        "#,
    )
    .unwrap();
    assert_eq!(models.len(), 9);
    let kling = models.last().unwrap();
    assert_eq!(
        *kling,
        ModelSpec {
            name: ModelName::fixed("kling-v2"),
            family: Family::Veo,
            label: "Kling 2".into(),
            aliases: vec!["kling".into()],
            shapes: vec![Shape::PORTRAIT, Shape::LANDSCAPE, Shape::SQUARE],
            durations: vec![],
            sizes: vec![Size::Large],
            images: ImageLimit::AtMost(1),
            cost: 3,
            pro: None,
        }
    );
    let pro = models.iter().find(|m| m.name.as_str() == "sora-2-pro").unwrap();
    assert_eq!((pro.cost, pro.durations.clone(), pro.label.as_str()), (2, vec![15, 25], "Sora 2 Pro"));
    assert_eq!(apply("").unwrap(), Catalog::builtin().offered().to_vec());
}

#[test]
fn every_mistake_in_a_file_names_the_entry_and_the_field() {
    let cases: &[(&str, &str)] = &[
        ("model = 1", "the file: `model` must be [[model]] tables"),
        ("[x]\na = 1", "the file: unknown table `x` (models are [[model]] tables)"),
        ("[[model]]\nfamily = \"veo\"", "[[model]] #1, field `name`: is missing"),
        ("[[model]]\nname = 5", "[[model]] #1, field `name`: must be a string"),
        ("[[model]]\nname = \"a b\"", "[[model]] #1, field `name`: a model name is"),
        ("[[model]]\nname = \"x\"", "[[model]] #1 \"x\", field `family`: is required for a new model"),
        (
            "[[model]]\nname = \"x\"\nfamily = \"kling\"",
            "field `family`: \"kling\" is not one of sora, veo, jimeng, grok",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\nshapes = [\"5:4x\"]",
            "field `shapes`: \"5:4x\" is not an aspect ratio like 16:9",
        ),
        ("[[model]]\nname = \"x\"\nfamily = \"veo\"\nshapes = []", "field `shapes`: needs at least one shape"),
        (
            "[[model]]\nname = \"x\"\nfamily = \"sora\"\ndurations = [10]\nshapes = [\"1:1\"]",
            "field `shapes`: family sora has portrait and landscape only, not 1:1",
        ),
        ("[[model]]\nname = \"x\"\nfamily = \"sora\"", "field `durations`: family sora needs at least one duration"),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\ndurations = [8]",
            "field `durations`: family veo takes no duration",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"sora\"\ndurations = [0]",
            "field `durations`: 0 is not a number of seconds from 1 to 600",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"sora\"\ndurations = [\"10\"]",
            "field `durations`: must be a list of numbers",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"grok\"\nsizes = [\"large\"]",
            "field `sizes`: family grok has no size choice",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\nsizes = [\"huge\"]",
            "field `sizes`: \"huge\" is not large or small",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\nmax_images = 11",
            "field `max_images`: must be a number from 0 to 10",
        ),
        ("[[model]]\nname = \"x\"\nfamily = \"veo\"\ncost = -1", "field `cost`: must be a whole number from 0 to 1000"),
        ("[[model]]\nname = \"x\"\nfamily = \"veo\"\ncost = 1.5", "field `cost`: must be a whole number"),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\nlabel = \"\"",
            "field `label`: must be a string of 1-40 characters",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\npro = \"nope\"",
            "[[model]] \"x\", field `pro`: no model is named \"nope\"",
        ),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\naliases = [\"veo\"]",
            "field `aliases`: \"veo\" already names veo3.1-fast",
        ),
        ("[[model]]\nname = \"x\"\nfamily = \"veo\"\ncolour = 1", "[[model]] #1 \"x\": unknown field `colour`"),
        (
            "[[model]]\nname = \"x\"\nfamily = \"veo\"\n[[model]]\nname = \"x\"",
            "[[model]] #2 \"x\", field `name`: is given twice in this file",
        ),
        ("[[model]\nname = 1", "the file: not valid TOML"),
    ];
    for (text, expected) in cases {
        let error = apply(text).expect_err(text).to_string();
        assert!(error.contains(expected), "{text:?}\n  gave: {error}\n  want: {expected}");
    }
}
