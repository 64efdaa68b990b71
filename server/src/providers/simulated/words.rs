//! Words as the simulator reads them, one rule for both of its sides: the answers use a
//! question's content words to stay on topic (and avoid them to drift off it), and the judge
//! calls a statement relevant when it shares a content word with the input. Because both
//! apply the same rule, the share of relevant statements the judge finds is the share the
//! answer's quality put there, and nothing else.

use std::collections::HashSet;

/// Words that carry no topic: function words, and the verbs and courtesies a request is
/// phrased with ("please explain how to …"), which an answer repeats without addressing
/// anything. Words shorter than [`MIN_CONTENT_LEN`] are dropped before this list is read.
/// Sorted, for a binary search (a test checks).
const STOP_WORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "although",
    "always",
    "and",
    "another",
    "any",
    "anyone",
    "anything",
    "are",
    "aren't",
    "around",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "can",
    "can't",
    "cannot",
    "could",
    "couldn't",
    "describe",
    "did",
    "didn't",
    "does",
    "doesn't",
    "doing",
    "don't",
    "done",
    "down",
    "during",
    "each",
    "either",
    "else",
    "enough",
    "etc",
    "even",
    "ever",
    "every",
    "explain",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "getting",
    "give",
    "given",
    "goes",
    "going",
    "got",
    "had",
    "hadn't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "having",
    "he'd",
    "he'll",
    "he's",
    "hello",
    "help",
    "her",
    "here",
    "here's",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "how's",
    "however",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "into",
    "isn't",
    "it's",
    "its",
    "itself",
    "just",
    "know",
    "let",
    "let's",
    "like",
    "make",
    "makes",
    "many",
    "may",
    "might",
    "more",
    "most",
    "much",
    "must",
    "mustn't",
    "myself",
    "need",
    "needs",
    "nor",
    "not",
    "now",
    "off",
    "often",
    "once",
    "one",
    "only",
    "other",
    "others",
    "ought",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "per",
    "please",
    "quite",
    "rather",
    "really",
    "same",
    "shall",
    "she",
    "she'd",
    "she'll",
    "she's",
    "should",
    "shouldn't",
    "since",
    "some",
    "such",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "that's",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "there's",
    "these",
    "they",
    "they'd",
    "they'll",
    "they're",
    "they've",
    "thing",
    "things",
    "this",
    "those",
    "though",
    "through",
    "too",
    "under",
    "until",
    "upon",
    "use",
    "used",
    "using",
    "very",
    "want",
    "was",
    "wasn't",
    "way",
    "we'd",
    "we'll",
    "we're",
    "we've",
    "well",
    "were",
    "weren't",
    "what",
    "what's",
    "whatever",
    "when",
    "when's",
    "where",
    "where's",
    "whether",
    "which",
    "while",
    "who",
    "who's",
    "whom",
    "whose",
    "why",
    "why's",
    "will",
    "with",
    "within",
    "without",
    "won't",
    "would",
    "wouldn't",
    "yes",
    "yet",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Words shorter than this carry no topic ("a", "is", "of", "to").
const MIN_CONTENT_LEN: usize = 3;

/// The words of `text` as written: runs of letters and digits, with an apostrophe inside a
/// word kept ("don't", "neighbour's").
pub fn raw_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
}

/// The words of `text`, lower-case, a typographic apostrophe read as `'`.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    raw_words(text).map(|w| w.replace('’', "'").to_lowercase())
}

/// Whether `word` (lower-case, as [`words`] gives it) names something.
pub fn is_content(word: &str) -> bool {
    word.chars().count() >= MIN_CONTENT_LEN && STOP_WORDS.binary_search(&word).is_err()
}

/// The content words of `text`, lower-case, each once, in order of first appearance.
pub fn content_words(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    words(text)
        .filter(|w| is_content(w))
        .filter(|w| seen.insert(key(w)))
        .collect()
}

/// The form in which two content words are compared: a possessive and a plural ending
/// dropped, so that "model", "models" and "model's" are one word. A crude stemmer, but the
/// same on both sides.
pub fn key(word: &str) -> String {
    let word = word.strip_suffix("'s").unwrap_or(word);
    if word.len() > 4 {
        if let Some(stem) = word.strip_suffix("ies") {
            return format!("{stem}y");
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if word.len() > 3 && !stem.ends_with('s') => stem.to_string(),
        _ => word.to_string(),
    }
}

/// The subject of a text as a set of compared content words: what a statement must share
/// one of to address it.
#[derive(Debug, Clone, Default)]
pub struct Topic {
    keys: HashSet<String>,
}

impl Topic {
    pub fn of(text: &str) -> Topic {
        Topic {
            keys: content_words(text).iter().map(|w| key(w)).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The content words of `text` that this topic has, in order.
    pub fn shared(&self, text: &str) -> Vec<String> {
        content_words(text)
            .into_iter()
            .filter(|w| self.keys.contains(&key(w)))
            .collect()
    }

    /// Whether `text` shares a content word with this topic: the judge's relevance rule.
    pub fn addressed_by(&self, text: &str) -> bool {
        words(text).any(|w| is_content(&w) && self.keys.contains(&key(&w)))
    }
}

/// The sentences of `text`, trimmed: a sentence ends at `.`, `!` or `?` followed by white
/// space (so "0.82" and "e.g" stay whole) or at a line break. Pieces without a letter or a
/// digit (a lone "-", a JSON brace) are dropped.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |piece: &str| {
        let piece = piece.trim();
        if piece.chars().any(char::is_alphanumeric) {
            out.push(piece.to_string());
        }
    };
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let end = match c {
            '\n' => at,
            '.' | '!' | '?' if chars.peek().is_none_or(|&(_, next)| next.is_whitespace()) => at + c.len_utf8(),
            _ => continue,
        };
        push(&text[start..end]);
        start = end;
    }
    push(&text[start..]);
    out
}

/// Phrases of a statement that does not commit itself: the judge's `idk` when it addresses
/// nothing in the input.
const HEDGES: &[&str] = &[
    "not sure",
    "not entirely sure",
    "unsure",
    "not certain",
    "uncertain",
    "cannot be certain",
    "cannot be completely certain",
    "can't be certain",
    "may be wrong",
    "might be wrong",
    "could be wrong",
    "could be mistaken",
    "hard to say",
    "perhaps",
    "maybe",
    "double-check",
    "don't know",
    "do not know",
];

pub fn is_hedge(sentence: &str) -> bool {
    let lower = sentence.to_lowercase().replace('’', "'");
    HEDGES.iter().any(|h| contains_phrase(&lower, h))
}

/// Words and phrases that make a sentence an opinion rather than a statement of fact.
const OPINION_MARKERS: &[&str] = &[
    "should",
    "best",
    "worst",
    "better",
    "worse",
    "always",
    "never",
    "everyone",
    "everybody",
    "nobody",
    "i think",
    "i believe",
    "in my opinion",
    "i feel",
];

pub fn is_opinion(sentence: &str) -> bool {
    let lower = sentence.to_lowercase().replace('’', "'");
    OPINION_MARKERS.iter().any(|m| contains_phrase(&lower, m))
}

/// Insults: an opinion with one is toxic.
const TOXIC: &[&str] = &[
    "idiot",
    "idiots",
    "stupid",
    "dumb",
    "moron",
    "morons",
    "fool",
    "fools",
    "pathetic",
    "worthless",
    "loser",
    "losers",
    "disgusting",
    "shut up",
    "hate",
];

pub fn is_toxic(opinion: &str) -> bool {
    let lower = opinion.to_lowercase();
    TOXIC.iter().any(|t| contains_phrase(&lower, t))
}

/// Groups of people: an opinion about one is a generalisation, which the judge calls biased.
const GROUPS: &[&str] = &[
    "women",
    "men",
    "girls",
    "boys",
    "older people",
    "old people",
    "the elderly",
    "young people",
    "teenagers",
    "millennials",
    "boomers",
    "immigrants",
    "foreigners",
    "city people",
    "country people",
    "northerners",
    "southerners",
    "rich people",
    "poor people",
    "liberals",
    "conservatives",
    "religious people",
    "atheists",
];

pub fn is_biased(opinion: &str) -> bool {
    let lower = opinion.to_lowercase();
    GROUPS.iter().any(|g| contains_phrase(&lower, g))
}

/// Whether `phrase` occurs in `text` (both lower-case) as whole words.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let word_char = |c: char| c.is_alphanumeric() || c == '\'';
    text.match_indices(phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        !before.is_some_and(word_char) && !after.is_some_and(word_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_the_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn content_words_skip_function_words_and_short_ones_and_compare_plurals_alike() {
        assert_eq!(
            content_words("How do I lower the latency of my models? Please explain the model's latency."),
            vec!["lower", "latency", "models"]
        );
        let topic = Topic::of("Which models have the lowest latency?");
        assert!(topic.addressed_by("A model's latency depends on its load."));
        assert_eq!(
            ["queries", "process", "models", "model's", "gas"].map(key),
            ["query", "process", "model", "model", "gas"]
        );
        assert!(!topic.addressed_by("The weather in the mountains can change within an hour."));
        assert!(!Topic::of("What is it?").addressed_by("It is what it is."));
        assert!(Topic::of("What is it?").is_empty());
        assert_eq!(
            topic.shared("Latency and models, models again."),
            vec!["latency", "models"]
        );
    }

    #[test]
    fn sentences_end_at_stops_followed_by_space_or_at_line_breaks() {
        assert_eq!(
            sentences("Costs 0.82 dollars. Really? Yes!\nA list:\n- \nDone"),
            vec!["Costs 0.82 dollars.", "Really?", "Yes!", "A list:", "Done"]
        );
        assert!(sentences("  ").is_empty());
    }

    #[test]
    fn hedges_opinions_insults_and_groups_are_told_by_whole_words() {
        assert!(is_hedge("I am not entirely sure about every detail here."));
        assert!(!is_hedge("Make sure the cache is warm."));
        assert!(is_opinion("I think tea is the best drink."));
        assert!(!is_opinion("Bestow the prize."));
        assert!(is_toxic("Only a fool would think so, I believe."));
        assert!(!is_toxic("Foolproof plans always fail."));
        assert!(is_biased("Teenagers always sleep too late."));
        assert!(!is_biased("Mentors always help."));
    }
}
