//! The text of a simulated answer: sentences about the question, as many as the drawn
//! completion length holds. Each sentence, with probability `quality`, takes one or two of
//! the question's content words into a template (on topic); otherwise it is filler that shares
//! no content word with the request (off topic). A few sentences are hedges whatever the
//! quality. The judge finds these by the same word rule ([`super::words`]), so a better model
//! scores higher through the metric code, not through a label.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::words::{self, Topic};

/// The vocabulary of the simulator's earlier word salad: the topic when the question has no
/// content word ("Hi!").
const FALLBACK_TOPIC: &str =
    "set routes request model average behaviour target cost answers latency quality price people";

/// Share of sentences that hedge, whatever the quality.
pub const HEDGE_SHARE: f64 = 0.05;

/// Per answer, for quality q: probability (1 − q) × this that one off-topic sentence is a
/// generalisation about a group of people (bias), and (1 − q) × [`TOXIC_RATE`] that one is an
/// insult (toxicity). Rare and tame, but the bias and toxicity charts are not flat zero.
const BIASED_RATE: f64 = 0.1;
const TOXIC_RATE: f64 = 0.05;

/// On topic, about one content word (`{a}`).
const ABOUT_ONE: &[&str] = &[
    "When it comes to {a}, the key point is to start from what you actually need.",
    "The main thing to know about {a} is that the right answer depends on the context.",
    "{a} is easier to reason about once you break it into smaller parts.",
    "In practice, {a} comes down to a few simple trade-offs.",
    "A common mistake with {a} is to change it before measuring it.",
    "It helps to look at {a} from the point of view of the person who relies on it.",
    "Most of the effort around {a} goes into getting the details right.",
    "If you are new to {a}, begin with a small example and grow from there.",
    "{a} tends to matter more than people expect at first.",
    "The simplest way to handle {a} is to write down what a good result looks like.",
    "There are several ways to approach {a}, and each has its own costs.",
    "Think of {a} as a set of choices rather than a single decision.",
    "The best approach to {a} is usually the simplest one that works.",
    "You should check how {a} behaves on real examples before relying on it.",
    "A short checklist for {a} saves time later.",
    "Getting {a} right early makes everything after it easier.",
];

/// On topic, about two content words (`{a}`, `{b}`).
const ABOUT_TWO: &[&str] = &[
    "A good way to think about {a} and {b} is to treat them as parts of one problem.",
    "{a} and {b} are closely related, so a change to one affects the other.",
    "The link between {a} and {b} is worth checking before anything else.",
    "When {a} changes, {b} usually changes with it.",
    "You can compare {a} with {b} by looking at a few concrete cases.",
    "Balancing {a} against {b} is the heart of the matter.",
    "It is worth asking how {a} affects {b} in your own situation.",
];

/// On topic and short, to end an answer on its exact length.
const ABOUT_SHORT: &[&str] = &[
    "{a}.",
    "{a} matters.",
    "Consider {a}.",
    "{a} matters most.",
    "It depends on {a}.",
    "Start by considering {a}.",
    "{a} is worth understanding.",
    "Look closely at {a}.",
    "{a} deserves careful thought.",
];

/// Off topic: generic sentences about unrelated things.
const FILLER: &[&str] = &[
    "The weather in the mountains can change within an hour.",
    "My neighbour's cat spends most afternoons asleep on the windowsill.",
    "Fresh bread tastes best on the day it is baked.",
    "The old bridge downtown was repainted green last summer.",
    "Some birds fly thousands of kilometres every autumn.",
    "A cup of tea is a pleasant start to the morning.",
    "The library on the corner closes early on Sundays.",
    "Trains in the countryside rarely run on time in winter.",
    "There was a long queue at the bakery this morning.",
    "The river behind the village freezes over in January.",
    "Board games are a popular way to spend a rainy evening.",
    "The garden needs watering twice a week in July.",
    "Octopuses have three hearts and blue blood.",
    "The museum has a new exhibition of old maps.",
    "Sunflowers turn to follow the sun while they are young.",
    "Our street holds a small flea market every second Saturday.",
];

const FILLER_SHORT: &[&str] = &[
    "Anyway.",
    "Moving on.",
    "Nice weather.",
    "Anyway, moving on.",
    "The sun set.",
    "It rained all day.",
    "Lunch was late today.",
    "The kettle is boiling.",
    "Birds sang outside the window.",
];

/// Hedges: the judge's `idk`.
const HEDGES: &[&str] = &[
    "I am not entirely sure about every detail here.",
    "I may be wrong about some of this.",
    "It is hard to say for certain without more information.",
    "Please double-check this, as I could be mistaken.",
    "I cannot be completely certain about this.",
    "Perhaps there is more to it than I can see from here.",
];

const HEDGES_SHORT: &[&str] = &[
    "Perhaps.",
    "Not sure.",
    "Maybe not.",
    "I'm not sure.",
    "Hard to say.",
    "I may be wrong.",
    "I'm not entirely sure.",
];

/// Mild generalisations about a group: opinions the judge calls biased.
const BIASED: &[&str] = &[
    "Older people are never any good with new gadgets.",
    "Teenagers always spend far too long on their phones.",
    "City people never know how to grow their own vegetables.",
    "Men are always better at reading maps than women.",
];

/// Mild insults: opinions the judge calls toxic.
const TOXIC: &[&str] = &[
    "People who drive slowly in the fast lane are idiots, I think.",
    "Anyone who puts pineapple on pizza is frankly a fool, I think.",
    "Only a moron would queue overnight for a new phone, I believe.",
];

/// Phrases that lengthen a sentence to an exact word count, by their length in words.
const TAILS: [&[&str]; 4] = [
    &["indeed", "overall", "generally", "usually", "typically"],
    &["in general", "in practice", "these days", "of course", "as usual"],
    &[
        "in most cases",
        "more or less",
        "by and large",
        "to be fair",
        "all things considered",
    ],
    &[
        "for the most part",
        "at least for now",
        "as a general rule",
        "in the long run",
    ],
];

/// The longest template, in words; a test checks it.
const MAX_CORE: usize = 18;
/// The longest free sentence: a template and one tail.
const MAX_FREE: usize = MAX_CORE + TAILS.len();
/// The fewest words the last sentence is left with, so that answers do not end on "Anyway.".
const MIN_LAST: usize = 6;

/// Tries at an off-topic sentence that mentions nothing in the request before settling.
const OFF_TOPIC_TRIES: usize = 24;

/// Content words that make poor topics in a template ("When it comes to choose, …"): common
/// verbs, adjectives and numbers. Left out of the words an answer writes about when the
/// question has others; the judge still counts them, like every content word.
const WEAK_TOPICS: &[&str] = &[
    "able",
    "add",
    "ask",
    "bad",
    "best",
    "better",
    "big",
    "build",
    "call",
    "choose",
    "come",
    "compare",
    "create",
    "cut",
    "different",
    "difference",
    "easy",
    "example",
    "fast",
    "feel",
    "find",
    "first",
    "five",
    "four",
    "good",
    "great",
    "hard",
    "important",
    "improve",
    "increase",
    "keep",
    "large",
    "last",
    "learn",
    "list",
    "little",
    "long",
    "look",
    "mean",
    "new",
    "next",
    "old",
    "pick",
    "put",
    "quick",
    "recommend",
    "reduce",
    "right",
    "run",
    "say",
    "see",
    "seem",
    "set",
    "show",
    "simple",
    "slow",
    "small",
    "start",
    "suggest",
    "take",
    "think",
    "three",
    "try",
    "two",
    "understand",
    "work",
    "works",
    "write",
];

/// What an answer is about.
pub struct Question {
    /// Content words to write about: the last user message's, or the fallback vocabulary.
    topics: Vec<String>,
    /// Everything the request says: an off-topic sentence mentions none of it.
    avoid: Topic,
}

impl Question {
    /// `prompt`: the last user message; `context`: the text of every message.
    pub fn new(prompt: &str, context: &str) -> Question {
        let mut topics = topic_words(prompt);
        if topics.is_empty() {
            topics = words::content_words(FALLBACK_TOPIC);
        }
        // Adverbs and weak words read badly in "When it comes to quickly, …": left out when
        // the question has other words.
        let strong = |w: &String| {
            let lower = w.to_lowercase();
            !lower.ends_with("ly") && !WEAK_TOPICS.contains(&lower.as_str())
        };
        if topics.iter().any(strong) {
            topics.retain(strong);
        }
        Question {
            topics,
            avoid: Topic::of(context),
        }
    }
}

/// The content words of `prompt`, each once, lower-case unless written capitalised inside a
/// sentence or in capitals ("Mars", "GPU"): names keep their case in the answer.
fn topic_words(prompt: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for sentence in words::sentences(prompt) {
        for (i, raw) in words::raw_words(&sentence).enumerate() {
            let lower = raw.replace('’', "'").to_lowercase();
            if !words::is_content(&lower) || !seen.insert(words::key(&lower)) {
                continue;
            }
            let capitals = raw.chars().filter(|c| c.is_uppercase()).count();
            let name = (i > 0 && capitals > 0) || (capitals > 1 && capitals * 2 >= raw.chars().count());
            out.push(if name { raw.to_string() } else { lower });
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OnTopic,
    OffTopic,
    Hedge,
    Biased,
    Toxic,
}

/// Writes one answer's sentences from one RNG.
struct Writer<'a, R: Rng> {
    question: &'a Question,
    quality: f64,
    rng: &'a mut R,
    /// The biased or toxic sentence this answer will have in place of an off-topic one.
    pending: Option<Kind>,
    /// Templates this answer has used: not used again while others fit.
    used: Vec<&'static str>,
}

/// The sentences of an answer of exactly `words` words (at least one) to `question`.
pub fn sentences(question: &Question, words: usize, quality: f64, rng: &mut impl Rng) -> Vec<String> {
    let quality = quality.clamp(0.0, 1.0);
    let pending = if rng.random_bool((1.0 - quality) * BIASED_RATE) {
        Some(Kind::Biased)
    } else if rng.random_bool((1.0 - quality) * TOXIC_RATE) {
        Some(Kind::Toxic)
    } else {
        None
    };
    let mut writer = Writer {
        question,
        quality,
        rng,
        pending,
        used: Vec::new(),
    };
    let mut out = Vec::new();
    let mut left = words.max(1);
    while left > 0 {
        let kind = writer.kind();
        let sentence = if left >= MAX_FREE + MIN_LAST {
            writer.free(kind)
        } else if left > MAX_CORE {
            // Two sentences of about half each, rather than one long-tailed one.
            writer.exact(kind, left / 2)
        } else {
            writer.exact(kind, left)
        };
        left = left.saturating_sub(count(&sentence));
        out.push(sentence);
    }
    out
}

/// An answer of exactly `words` words, as one paragraph.
pub fn text(question: &Question, words: usize, quality: f64, rng: &mut impl Rng) -> String {
    sentences(question, words, quality, rng).join(" ")
}

/// The JSON a request in JSON mode asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonFormat {
    /// `json_object`: any object.
    Object,
    /// `json_schema`: the schema the object follows.
    Schema(Value),
}

/// A JSON answer, compact (so its words are the words of its strings): valid with
/// probability `quality`, else slightly broken. For `json_object`, `{"answer", "confidence",
/// "topics"}` with an answer of about `words` words; for a schema, its properties filled by
/// type, one sentence a string.
pub fn json(question: &Question, format: &JsonFormat, words: usize, quality: f64, rng: &mut impl Rng) -> String {
    let quality = quality.clamp(0.0, 1.0);
    let valid = rng.random_bool(quality);
    let value = match format {
        JsonFormat::Schema(schema) => {
            let mut filler = Filler {
                question,
                quality,
                root: schema,
                rng: &mut *rng,
            };
            filler.fill(schema, 0)
        }
        JsonFormat::Object => {
            let answer = text(question, words, quality, rng);
            let topics: Vec<&String> = question.topics.iter().take(3).collect();
            let confidence = (100.0 * (0.5 + 0.5 * quality * rng.random::<f64>())).round() / 100.0;
            json!({"answer": answer, "topics": topics, "confidence": confidence})
        }
    };
    // Writing a Value to a string cannot fail.
    let text = serde_json::to_string(&value).unwrap_or_default();
    if valid {
        text
    } else {
        broken(text, rng)
    }
}

/// `text` (valid JSON) made invalid as a model breaks it: the closing bracket missing, a
/// trailing comma, or a stray brace after a scalar.
fn broken(mut text: String, rng: &mut impl Rng) -> String {
    if text.ends_with('}') || text.ends_with(']') {
        let close = text.pop();
        if rng.random_bool(0.5) {
            text.push(',');
            text.extend(close);
        }
    } else {
        text.push('}');
    }
    text
}

/// Fills a JSON Schema with values, the strings being sentences of the answer.
struct Filler<'a, R: Rng> {
    question: &'a Question,
    quality: f64,
    root: &'a Value,
    rng: &'a mut R,
}

/// How deep a schema is followed; deeper objects are left empty.
const MAX_DEPTH: usize = 6;

impl<R: Rng> Filler<'_, R> {
    fn fill(&mut self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            // Local references only ("#/$defs/Item"), as OpenAI's structured outputs allow.
            let root = self.root;
            return match target.strip_prefix('#').and_then(|pointer| root.pointer(pointer)) {
                Some(resolved) => self.fill(resolved, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(choice) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|c| c.choose(self.rng))
        {
            return choice.clone();
        }
        if let Some(first) = ["anyOf", "oneOf", "allOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array).and_then(|alts| alts.first()))
        {
            return self.fill(first, depth + 1);
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if schema.get("properties").is_some() => "object",
            _ => "string",
        };
        match kind {
            "object" => {
                let mut object = Map::new();
                if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                    for (name, property) in properties {
                        object.insert(name.clone(), self.fill(property, depth + 1));
                    }
                }
                Value::Object(object)
            }
            "array" => {
                let items = schema
                    .get("items")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "string"}));
                let least = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1);
                let most = schema.get("maxItems").and_then(Value::as_u64).unwrap_or(3).max(least);
                let n = self.rng.random_range(least..=most.min(least.max(3)));
                Value::Array((0..n).map(|_| self.fill(&items, depth + 1)).collect())
            }
            "integer" => json!(self.rng.random_range(0..=10)),
            "number" => json!((100.0 * self.rng.random::<f64>()).round() / 100.0),
            "boolean" => json!(self.rng.random_bool(0.5)),
            "null" => Value::Null,
            _ => {
                let mut writer = Writer {
                    question: self.question,
                    quality: self.quality,
                    rng: &mut *self.rng,
                    pending: None,
                    used: Vec::new(),
                };
                let kind = writer.kind();
                Value::String(writer.free(kind))
            }
        }
    }
}

impl<R: Rng> Writer<'_, R> {
    fn kind(&mut self) -> Kind {
        if self.rng.random_bool(HEDGE_SHARE) {
            Kind::Hedge
        } else if self.rng.random_bool(self.quality) {
            Kind::OnTopic
        } else {
            self.pending.take().unwrap_or(Kind::OffTopic)
        }
    }

    /// A sentence of its natural length, sometimes with a tail.
    fn free(&mut self, kind: Kind) -> String {
        let tail = self
            .rng
            .random_bool(0.2)
            .then(|| self.rng.random_range(1..=TAILS.len()));
        self.write(kind, None, tail.unwrap_or(0))
    }

    /// A sentence of exactly `target` words.
    fn exact(&mut self, kind: Kind, target: usize) -> String {
        self.write(kind, Some(target), 0)
    }

    /// A sentence of `kind`: a template that fits `target` (when given) lengthened by tails to
    /// it, or else `tail` words of tails. One that should be off topic is drawn again while it
    /// mentions something the request said.
    fn write(&mut self, kind: Kind, target: Option<usize>, tail: usize) -> String {
        let (long, short): (&[&'static str], &[&'static str]) = match kind {
            Kind::OnTopic => (ABOUT_ONE, ABOUT_SHORT),
            Kind::OffTopic => (FILLER, FILLER_SHORT),
            Kind::Hedge => (HEDGES, HEDGES_SHORT),
            Kind::Biased => (BIASED, &[]),
            Kind::Toxic => (TOXIC, &[]),
        };
        let two = kind == Kind::OnTopic && self.question.topics.len() >= 2 && self.rng.random_bool(0.3);
        let long = if two { ABOUT_TWO } else { long };
        let mut candidates: Vec<&'static str> = match target {
            None => long.to_vec(),
            Some(target) => {
                let fits: Vec<&'static str> = long
                    .iter()
                    .chain(short)
                    .copied()
                    .filter(|t| count(t) <= target)
                    .collect();
                let close: Vec<&'static str> = fits
                    .iter()
                    .copied()
                    .filter(|t| count(t) + TAILS.len() >= target)
                    .collect();
                if close.is_empty() {
                    let longest = fits.iter().map(|t| count(t)).max().unwrap_or(0);
                    fits.into_iter().filter(|t| count(t) == longest).collect()
                } else {
                    close
                }
            }
        };
        if candidates.is_empty() {
            // A biased or toxic sentence too long for the words left: plain filler instead.
            if kind == Kind::OnTopic {
                candidates = ABOUT_SHORT.to_vec();
            } else {
                return self.write(Kind::OffTopic, target, tail);
            }
        }
        let fresh: Vec<&'static str> = candidates.iter().copied().filter(|t| !self.used.contains(t)).collect();
        if fresh.is_empty() {
            // All used: a new round.
            self.used.retain(|t| !candidates.contains(t));
        } else {
            candidates = fresh;
        }
        let mut sentence = String::new();
        for _ in 0..OFF_TOPIC_TRIES {
            sentence = self.fill(&candidates, target, tail);
            if kind == Kind::OnTopic || !self.question.avoid.addressed_by(&sentence) {
                break;
            }
        }
        sentence
    }

    /// One template of `candidates` with the topic words put in and tails added (as few as
    /// make up the length).
    fn fill(&mut self, candidates: &[&'static str], target: Option<usize>, tail: usize) -> String {
        let template = candidates.choose(self.rng).copied().unwrap_or("Anyway.");
        self.used.push(template);
        let a = self.question.topics.choose(self.rng).map_or("it", String::as_str);
        let others: Vec<&String> = self.question.topics.iter().filter(|w| *w != a).collect();
        let b = others.choose(self.rng).map_or("it", |w| w.as_str());
        let mut sentence = capitalise(&template.replace("{a}", a).replace("{b}", b));
        let mut missing = target.map_or(tail, |t| t.saturating_sub(count(&sentence)));
        while missing > 0 {
            let len = missing.min(TAILS.len());
            let phrase = TAILS[len - 1].choose(self.rng).copied().unwrap_or("indeed");
            let stop = sentence.pop().unwrap_or('.');
            sentence = format!("{sentence}, {phrase}{stop}");
            missing -= len;
        }
        sentence
    }
}

fn count(text: &str) -> usize {
    text.split_whitespace().count()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    const QUESTION: &str = "How should I choose between caching and batching to cut inference latency?";

    fn question() -> Question {
        Question::new(QUESTION, QUESTION)
    }

    #[test]
    fn templates_fit_the_length_bounds() {
        for list in [
            ABOUT_ONE,
            ABOUT_TWO,
            ABOUT_SHORT,
            FILLER,
            FILLER_SHORT,
            HEDGES,
            HEDGES_SHORT,
            BIASED,
            TOXIC,
        ] {
            for t in list {
                assert!(count(t) <= MAX_CORE, "{t}");
                assert!(t.ends_with('.'), "{t}");
            }
        }
        for (i, tails) in TAILS.iter().enumerate() {
            assert!(tails.iter().all(|t| count(t) == i + 1));
        }
        // The judge reads the special sentences as the opinions they are meant to be.
        assert!(BIASED
            .iter()
            .all(|s| words::is_opinion(s) && words::is_biased(s) && !words::is_toxic(s)));
        assert!(TOXIC
            .iter()
            .all(|s| words::is_opinion(s) && words::is_toxic(s) && !words::is_biased(s)));
        assert!(HEDGES.iter().chain(HEDGES_SHORT).all(|s| words::is_hedge(s)));
        assert!(FILLER
            .iter()
            .chain(ABOUT_ONE)
            .all(|s| !words::is_hedge(s) && !words::is_toxic(s)));
    }

    #[test]
    fn answers_are_sentences_of_the_exact_length_about_the_question() {
        let question = question();
        let topic = Topic::of(QUESTION);
        let mut rng = StdRng::seed_from_u64(7);
        for words in (1..=60).chain([150, 257, 1000]) {
            let sentences = sentences(&question, words, 0.8, &mut rng);
            let text = sentences.join(" ");
            assert_eq!(count(&text), words, "{text}");
            assert_eq!(words::sentences(&text), sentences, "the judge splits them back");
            for s in &sentences {
                assert!(s.chars().next().is_some_and(char::is_uppercase), "{s}");
                assert!(s.ends_with('.'), "{s}");
            }
            if words >= 150 {
                assert!(sentences.iter().any(|s| topic.addressed_by(s)), "{text}");
            }
        }
        let text = text(&question, 40, 1.0, &mut StdRng::seed_from_u64(1));
        assert!(["caching", "batching", "inference", "latency", "choose", "cut"]
            .iter()
            .any(|w| text.to_lowercase().contains(w)));
    }

    #[test]
    fn a_question_without_content_words_gets_the_old_vocabulary() {
        let question = Question::new("Hi!", "Hi!");
        let text = text(&question, 30, 1.0, &mut StdRng::seed_from_u64(3));
        assert!(Topic::of(FALLBACK_TOPIC).addressed_by(&text), "{text}");
    }

    /// The share of sentences the judge's rule calls on topic, over `n` answers of 180 words.
    fn on_topic_share(quality: f64, n: usize, seed: u64) -> (f64, usize) {
        let question = question();
        let topic = Topic::of(QUESTION);
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut on, mut all) = (0, 0);
        for _ in 0..n {
            for s in sentences(&question, 180, quality, &mut rng) {
                all += 1;
                on += usize::from(topic.addressed_by(&s));
            }
        }
        (on as f64 / all as f64, all)
    }

    #[test]
    fn a_better_model_writes_measurably_more_sentences_on_topic() {
        let (high, n_high) = on_topic_share(0.95, 400, 11);
        let (low, n_low) = on_topic_share(0.65, 400, 12);
        // Each sentence is on topic with probability (1 − hedge share) × quality; five
        // binomial standard deviations around that.
        for (share, n, quality) in [(high, n_high, 0.95), (low, n_low, 0.65)] {
            let p = (1.0 - HEDGE_SHARE) * quality;
            let bound = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (share - p).abs() < bound,
                "quality {quality}: {share} vs {p} ± {bound} over {n}"
            );
        }
        assert!(high - low > 0.2, "{high} vs {low}");
        eprintln!("on-topic share: quality 0.95 → {high:.4} ({n_high} sentences), 0.65 → {low:.4} ({n_low})");
    }

    #[test]
    fn json_mode_is_valid_at_about_the_quality_rate() {
        let question = question();
        let schema = json!({
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
                "level": {"enum": ["low", "high"]},
                "score": {"type": ["number", "null"]}
            },
            "$defs": {"step": {"type": "object", "properties": {"n": {"type": "integer"}, "done": {"type": "boolean"}}}}
        });
        for format in [JsonFormat::Object, JsonFormat::Schema(schema)] {
            let mut rng = StdRng::seed_from_u64(5);
            let n = 1000;
            let mut valid = 0;
            for _ in 0..n {
                let text = json(&question, &format, 60, 0.8, &mut rng);
                assert!(!text.contains("  "), "words split back: {text}");
                if let Ok(value) = serde_json::from_str::<Value>(&text) {
                    valid += 1;
                    match &format {
                        JsonFormat::Object => {
                            assert_eq!(count(&text), 60);
                            assert!(value["answer"].is_string());
                        }
                        JsonFormat::Schema(_) => {
                            assert!(value["title"].is_string() && value["steps"][0]["n"].is_i64(), "{value}");
                            assert!(value["level"] == "low" || value["level"] == "high");
                        }
                    }
                }
            }
            let share = f64::from(valid) / f64::from(n);
            assert!(
                (share - 0.8).abs() < 5.0 * (0.8_f64 * 0.2 / f64::from(n)).sqrt(),
                "{format:?}: {share}"
            );
            eprintln!("JSON mode {format:?}: {share:.3} valid at quality 0.8");
        }
        // A scalar root is broken too.
        assert!(serde_json::from_str::<Value>(&broken("7".into(), &mut StdRng::seed_from_u64(0))).is_err());
    }

    #[test]
    fn low_quality_answers_now_and_then_carry_a_biased_or_toxic_opinion() {
        let question = question();
        let mut rng = StdRng::seed_from_u64(9);
        let (mut biased, mut toxic) = (0, 0);
        let n = 2000;
        for _ in 0..n {
            let text = text(&question, 180, 0.6, &mut rng);
            biased += usize::from(words::sentences(&text).iter().any(|s| words::is_biased(s)));
            toxic += usize::from(words::sentences(&text).iter().any(|s| words::is_toxic(s)));
        }
        // 4 % and about 2 % expected.
        assert!((40..=130).contains(&biased), "{biased}");
        assert!((15..=75).contains(&toxic), "{toxic}");
    }
}
