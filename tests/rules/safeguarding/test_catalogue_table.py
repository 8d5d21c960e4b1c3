"""The built-in catalogue, both ways: what a DSL must hear about, and what must raise nothing.

Each must-match row names the category and severity the DSL should see, written as pupils type: leetspeak,
accents, spacing, stretched letters, URL encoding, mixed case. The must-not-match rows are the everyday
texts that contain the same words (place names, lessons, games, cooking, sport), so that the catalogue
never cries wolf. Some of them are quiet only because of an exception, and a separate test proves it.
"""

from __future__ import annotations

import pytest

from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.matcher import match

S, E, X, G, B, D, W = (Category.SUICIDE_SELF_HARM, Category.EATING_DISORDERS, Category.EXTREMISM,
                       Category.SEXUAL_GROOMING, Category.BULLYING_ABUSE, Category.DRUGS_ALCOHOL,
                       Category.WEAPONS_VIOLENCE)
HIGH, MEDIUM, LOW = Severity.HIGH, Severity.MEDIUM, Severity.LOW

MUST_MATCH: list[tuple[str, Category, Severity]] = [
    # Suicide and self-harm
    ("i want to kill myself", S, HIGH),
    ("how to k1ll my5elf", S, HIGH),
    ("KILL MYSELF", S, HIGH),
    ("kiiiiill myseeeelf", S, HIGH),
    ("k i l l myself", S, HIGH),
    ("killmyself", S, HIGH),
    ("how+to+kill+myself", S, HIGH),
    ("how%20to%20kill%20myself", S, HIGH),
    ("how%2520to%2520kill%2520myself", S, HIGH),
    ("Kïll mysélf", S, HIGH),
    ("kill-my-self", S, HIGH),
    ("i wanna die", S, HIGH),
    ("painless way to die", S, HIGH),
    ("how many paracetamol to die", S, HIGH),
    ("how many sleeping pills does it take to die", S, HIGH),
    ("how to tie a noose", S, HIGH),
    ("suicide methods", S, HIGH),
    ("$uicide note", S, HIGH),
    ("sanctioned suicide forum", S, HIGH),
    ("i feel suicidal", S, HIGH),
    ("how to hang myself", S, HIGH),
    ("how to unalive myself", S, HIGH),
    ("how to self harm without anyone knowing", S, HIGH),
    ("how to hide self harm from parents", S, HIGH),
    ("self harm tips", S, HIGH),
    ("i want to cut myself", S, HIGH),
    ("overdose on purpose", S, HIGH),
    ("everyone would be better off dead", S, HIGH),
    ("nobody would miss me", S, HIGH),
    ("I don't want to live anymore", S, HIGH),
    ("slit my wrists", S, HIGH),
    ("ways to commit suicide", S, HIGH),
    ("Suicide", S, MEDIUM),
    ("su1c1dal thoughts", S, MEDIUM),
    ("self-harm scars", S, MEDIUM),
    ("selfharm", S, MEDIUM),
    ("s e l f h a r m", S, MEDIUM),
    ("paracetamol overdose", S, MEDIUM),
    ("sewer slide", S, MEDIUM),
    ("i hate myself", S, MEDIUM),
    ("blackout challenge", S, MEDIUM),
    ("overdose symptoms", S, LOW),
    ("i hate my life", S, LOW),
    # Eating disorders
    ("pro ana tips", E, HIGH),
    ("how to starve myself", E, HIGH),
    ("ana coach", E, HIGH),
    ("how to hide my eating disorder from my parents", E, HIGH),
    ("thinspo", E, MEDIUM),
    ("proana", E, MEDIUM),
    ("pr0 @na", E, MEDIUM),
    ("#edtwt", E, MEDIUM),
    ("500 calories a day", E, MEDIUM),
    ("laxatives to lose weight", E, MEDIUM),
    ("anorexia", E, LOW),
    ("BULIMIC", E, LOW),
    ("thigh gap", E, LOW),
    # Radicalisation and extremism
    ("how to join isis", X, HIGH),
    ("joining the taliban", X, HIGH),
    ("how to become a terrorist", X, HIGH),
    ("kill all the infidels", X, HIGH),
    ("isis propaganda videos", X, MEDIUM),
    ("the great replacement", X, MEDIUM),
    ("atomwaffen division", X, MEDIUM),
    ("the holocaust never happened", X, MEDIUM),
    ("brenton tarrant manifesto", X, MEDIUM),
    ("jihadist", X, MEDIUM),
    ("anwar al-awlaki lectures", X, MEDIUM),
    ("ISIS", X, LOW),
    ("incels", X, LOW),
    ("national action", X, LOW),
    # Sexual content, exploitation and grooming
    ("child porn", G, HIGH),
    ("ch1ld p0rn", G, HIGH),
    ("jailbait", G, HIGH),
    ("he is blackmailing me", G, HIGH),
    ("he wants me to send nudes", G, HIGH),
    ("older man wants to meet me", G, HIGH),
    ("how to meet up without my parents knowing", G, HIGH),
    ("send nudes", G, MEDIUM),
    ("omegle", G, MEDIUM),
    ("chat with strangers", G, MEDIUM),
    ("sugar daddy", G, MEDIUM),
    ("my boyfriend is 25", G, MEDIUM),
    ("how to make an onlyfans", G, MEDIUM),
    ("pornhub", G, LOW),
    ("p o r n", G, LOW),
    ("xvideos", G, LOW),
    ("sexting", G, LOW),
    # Bullying and abuse
    ("my dad hits me", B, HIGH),
    ("my stepdad touched me", B, HIGH),
    ("i was raped", B, HIGH),
    ("am i being groomed", B, HIGH),
    ("scared to go home", B, HIGH),
    ("they are taking me abroad to get married", B, HIGH),
    ("kys", B, MEDIUM),
    ("go kill yourself", B, MEDIUM),
    ("i'm being bullied", B, MEDIUM),
    ("everyone hates me", B, MEDIUM),
    ("my parents kicked me out", B, MEDIUM),
    ("fgm", B, LOW),
    ("domestic violence", B, LOW),
    ("i have no friends", B, LOW),
    # Drugs and alcohol
    ("selling drugs for older boys", D, HIGH),
    ("where to buy weed", D, MEDIUM),
    ("buy xanax online", D, MEDIUM),
    ("how to get drunk fast", D, MEDIUM),
    ("weed vape", D, MEDIUM),
    ("purple drank", D, MEDIUM),
    ("nitrous oxide balloons", D, MEDIUM),
    ("county lines", D, MEDIUM),
    ("mixing xanax and alcohol", D, MEDIUM),
    ("cocaine", D, LOW),
    ("magic mushrooms", D, LOW),
    ("fake id", D, LOW),
    # Weapons and violence
    ("how to make a bomb", W, HIGH),
    ("How To Make A Pipe Bomb", W, HIGH),
    ("how to kill someone", W, HIGH),
    ("bring a knife to school", W, HIGH),
    ("shoot up the school", W, HIGH),
    ("buy a zombie knife", W, MEDIUM),
    ("ghost gun", W, MEDIUM),
    ("3D printed gun", W, MEDIUM),
    ("gore videos", W, MEDIUM),
    ("i want to stab him", W, MEDIUM),
    ("school shooting", W, LOW),
    ("flick knife", W, LOW),
    ("molotov cocktail", W, LOW),
    ("how to make a bomb at home", W, HIGH),          # a WW2 bomb shelter is innocent, the bomb is not
]

MUST_NOT_MATCH: list[str] = [
    # The issue's own examples
    "how to kill a python process", "Scunthorpe", "Essex", "cocktail", "shooting stars", "the Isis river in Oxford",
    "killer whale facts", "drug store opening hours", "Penistone", "Sussex", "Middlesex", "Shitterton", "cockpit",
    "Dickens", "shoot a video", "bullet points", "knife and fork", "gun metal grey", "history of the isis goddess",
    "cutting board", "hanging baskets", "overdose of vitamin d symptoms",
    # Year 6 history (the Second World War) and the summer's ice lollies: "how to make a bomb" inside them
    "how to make a bomb shelter", "how to make a bomb shelter for my ww2 project", "how do i make a bomb shelter",
    "how to make an anderson bomb shelter out of cardboard", "how to make bomb shelters", "how to make a bomb pop",
    # Places, people and words that contain the letters of something else
    "Scunthorpe United results", "Essex county council", "Wessex", "charles dickens a christmas carol",
    "cocktail sausages recipe", "the cockpit of a plane", "Penistone grammar school", "Middlesex university",
    "therapist near me", "analysis of a poem", "assassins creed", "great tit bird", "pussy willow",
    "Dick Whittington pantomime", "seaweed facts", "tumbleweed", "gore-tex jacket", "al gore climate",
    # Lessons
    "romeo and juliet suicide scene", "why did hitler commit suicide", "macbeth murder scene",
    "atomic bomb hiroshima", "gunpowder plot", "knife crime statistics london", "what is jihad in islam",
    "five pillars of islam", "isis egyptian goddess of magic", "temple of isis pompeii", "isis river rowing",
    "national action plan for climate", "oilseed rape field", "the rape of the lock", "drug interactions ibuprofen",
    "drugs education ks3", "caffeine overdose symptoms", "lethal dose of caffeine", "how many calories a day",
    "500 calories burned walking", "anti bullying week", "what is cyberbullying", "sex education ks3",
    "13 year old sex education", "naked mole rat facts", "renaissance nudes paintings", "suicide sprints",
    "suicide squad cast", "suicide doors car",
    # Games and fun
    "how to kill myself in minecraft", "how to kill yourself in roblox", "how to kill someone in among us",
    "how to make a gun in minecraft", "how to make a bomb in minecraft", "how to make a paper gun",
    "how to make a bath bomb", "seed bomb for bees", "how to make a water bomb", "how to make an explosive volcano",
    "nerf gun war", "water gun fight", "die hard film", "die cast cars", "killing time", "kill the lights",
    "killer bees", "shooting star emoji", "photo shoot ideas", "how to shoot a music video", "bombed my maths test",
    "bullet journal ideas", "gun metal grey paint", "cocaine bear film", "murder mystery party",
    # Everyday life
    "knife skills for cooking", "hanging basket flowers", "wooden cutting board", "i cut myself shaving",
    "cut myself some slack", "i nearly killed myself laughing", "buy weed killer", "how to get weed out of patio",
    "coke zero sugar", "lean beef mince recipe", "how to make lean muscle", "high score",
    "how to get high quality images", "how to get high marks in gcse", "my dad beats me at chess",
    "my mum hits me up every day", "my coach kicked me off the team", "that film touched me deeply",
    "white power bank", "white power ranger", "my goodbye letter to my friends leaving year 6",
    "how to stop eating junk food", "how to stop eating so much sugar", "how to not eat late at night",
    "my boyfriend is 20 minutes late", "keep it a secret from my mum surprise party",
    "how to talk to strangers confidently", "sugar baby watermelon seeds", "my friend asked me for pics of her dog",
    "how to join the army", "how to join the scouts", "ana de armas films", "the great barrier reef",
    "i dont want to go to school tomorrow", "how to dye my hair", "dead sea", "drop dead fred",
]

# Texts that raise nothing only because an exception names them (so the rows above are not trivially quiet).
KEPT_QUIET: list[tuple[str, str]] = [
    ("the Isis river in Oxford", "oxford"),
    ("history of the isis goddess", "goddess"),
    ("overdose of vitamin d symptoms", "vitamin*"),
    ("suicide squad cast", "squad"),
    ("romeo and juliet suicide scene", "romeo"),
    ("how to kill myself in minecraft", "minecraft"),
    ("i nearly kill myself laughing every time", "laugh*"),
    ("buy weed killer", "weed (killer|killers|control|membrane|barrier|burner|wacker|whacker|eater|puller|spray)"),
    ("my dad beats me at chess", "(beat|beats|beating) me (at|to)"),
    ("national action plan for climate", "plan"),
    ("oilseed rape field", "oilseed"),
    ("cocaine bear film", "bear"),
    ("what is jihad in islam", "what is"),
    ("how to make a bomb in minecraft", "minecraft"),
    ("my mum hits me up every day", "(hit|hits|hitting) me up"),
    ("how to get high marks in gcse", ""),  # nothing matches at all: "get high" is not a phrase on its own
]


def test_the_tables_are_as_large_as_promised() -> None:
    assert len(MUST_MATCH) > 60 and len(MUST_NOT_MATCH) > 80
    assert {(category, severity) for _, category, severity in MUST_MATCH} >= {
        (category, severity) for category in Category for severity in (HIGH, MEDIUM, LOW)}


@pytest.mark.parametrize(("text", "category", "severity"), MUST_MATCH)
def test_must_match(text: str, category: Category, severity: Severity) -> None:
    raised = match(text)
    assert (category, severity) in {(m.category, m.severity) for m in raised}, (text, raised)
    assert all(m.suppressed_by is None and m.why and m.phrase for m in raised)
    assert raised[0].severity.rank >= severity.rank  # the most severe comes first


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_must_not_match(text: str) -> None:
    assert match(text) == [], text


@pytest.mark.parametrize(("text", "exception"), KEPT_QUIET)
def test_some_are_kept_quiet_by_a_named_exception(text: str, exception: str) -> None:
    explained = match(text, explain=True)
    if not exception:
        assert explained == []
        return
    assert explained and all(m.suppressed_by is not None for m in explained), explained
    assert exception in {m.suppressed_by.phrase for m in explained if m.suppressed_by is not None}
