#!/usr/bin/env python3
"""Train the openlora demo LoRA adapters for Gemma 3 270M on CPU.

What
    Builds four small "datanets" (JSONL training sets, tools/datanets/*.jsonl)
    from templated seed questions, then trains one PEFT LoRA adapter per
    datanet on top of the Gemma 3 270M base and writes them to
    adapters/<name>/ (adapter_config.json, adapter_model.safetensors,
    openlora.json metadata). Each adapter teaches one behaviour that a small
    program can check in the first ~48 greedy tokens:

      caps       answers in ALL CAPITAL LETTERS
      signature  ends every answer with the line "-- openlora demo"
      french     answers in French (opening "Bonjour !")
      pirate     speaks like a pirate (opens "Arr, matey!")

    The checkers live in this file (CHECKS) and are used by --eval.

Base model
    The only base copy is the GGUF ~/.cache/openlora/gemma-3-270m-q4_k_m.gguf
    (Q4_K_M). transformers (>= 4.50; tested with 5.24) loads it with
    gguf_file=..., dequantizes every tensor to float32 and undoes the "+1" the
    llama.cpp converter adds to Gemma norm weights. So the adapters are
    trained against exactly the (dequantized) weights the engine runs.

Format
    Gemma chat format, BOS added by the tokenizer:
      <bos><start_of_turn>user\\n{q}<end_of_turn>\\n<start_of_turn>model\\n{a}<end_of_turn>\\n
    The loss covers only the answer tokens and the closing <end_of_turn>.

LoRA
    rank 8, alpha 16, no dropout, no bias, targets q,k,v,o,gate,up,down
    projections (what the engine supports). Saved in float16 (3.8 MB each).

How to run
    nice -n 10 python tools/train_demo_adapters.py            # datanets + train all + eval
    python tools/train_demo_adapters.py --only-data           # just (re)write datanets
    python tools/train_demo_adapters.py --adapters caps pirate --steps 60
    python tools/train_demo_adapters.py --eval-only           # held-out table only
    Uses 2 torch threads (OPENLORA_THREADS overrides). Deterministic: fixed
    seeds for data generation, shuffling and LoRA init.

How long
    Measured on 2 heavily shared CPU cores (nice 10, other builds running):
    40-270 s to load/dequantize the base; 1-15 s per optimizer step
    (batch 2, ~45 tokens) depending on load, i.e. 1.5-9 min per adapter with
    the default 40 steps (pirate 531 s, french 94 s, signature 159 s,
    caps 490 s); the HF held-out evaluation (24 prompts x 48 greedy tokens,
    base + 4 adapters) ~2 min. Unloaded, the whole run is ~10 min.
    --llamacpp-eval converts the adapters to GGUF LoRA files in /tmp and
    repeats the held-out check with llama.cpp on the Q4_K_M base.
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO, "tools", "datanets")
OUT_DIR = os.path.join(REPO, "adapters")
GGUF_DIR = os.path.expanduser("~/.cache/openlora")
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
SIGNATURE = "-- openlora demo"
SEED = 1234
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# --------------------------------------------------------------------------
# Seed facts (English answer, French answer). Held-out items are listed
# separately below and never enter a datanet.
# --------------------------------------------------------------------------
CAPITALS = [  # country, capital, French country phrase ("de la France")
    ("France", "Paris", "de la France"), ("Germany", "Berlin", "de l'Allemagne"),
    ("Italy", "Rome", "de l'Italie"), ("Spain", "Madrid", "de l'Espagne"),
    ("Portugal", "Lisbon", "du Portugal"), ("Japan", "Tokyo", "du Japon"),
    ("China", "Beijing", "de la Chine"), ("Canada", "Ottawa", "du Canada"),
    ("Egypt", "Cairo", "de l'Egypte"), ("Russia", "Moscow", "de la Russie"),
    ("Greece", "Athens", "de la Grece"), ("Norway", "Oslo", "de la Norvege"),
    ("Sweden", "Stockholm", "de la Suede"), ("Poland", "Warsaw", "de la Pologne"),
    ("Austria", "Vienna", "de l'Autriche"), ("Ireland", "Dublin", "de l'Irlande"),
    ("Mexico", "Mexico City", "du Mexique"), ("Peru", "Lima", "du Perou"),
    ("Kenya", "Nairobi", "du Kenya"), ("India", "New Delhi", "de l'Inde"),
    ("Turkey", "Ankara", "de la Turquie"), ("Cuba", "Havana", "de Cuba"),
]
THINGS = [  # question, English answer, French answer
    ("What color is the sky?", "The sky is blue on a clear day.", "Le ciel est bleu quand il fait beau."),
    ("What color is grass?", "Grass is green.", "L'herbe est verte."),
    ("What color is snow?", "Snow is white.", "La neige est blanche."),
    ("What color is a banana?", "A ripe banana is yellow.", "Une banane mure est jaune."),
    ("What sound does a dog make?", "A dog barks.", "Le chien aboie."),
    ("What sound does a cat make?", "A cat meows.", "Le chat miaule."),
    ("What sound does a cow make?", "A cow moos.", "La vache meugle."),
    ("How many legs does a spider have?", "A spider has eight legs.", "Une araignee a huit pattes."),
    ("How many days are in a week?", "There are seven days in a week.", "Il y a sept jours dans une semaine."),
    ("How many months are in a year?", "There are twelve months in a year.", "Il y a douze mois dans une annee."),
    ("What do bees make?", "Bees make honey.", "Les abeilles font du miel."),
    ("Where do fish live?", "Fish live in water.", "Les poissons vivent dans l'eau."),
    ("What is ice made of?", "Ice is frozen water.", "La glace est de l'eau gelee."),
    ("What do plants need to grow?", "Plants need water, light and soil.", "Les plantes ont besoin d'eau, de lumiere et de terre."),
    ("Which planet do we live on?", "We live on the Earth.", "Nous vivons sur la Terre."),
    ("What is the largest ocean?", "The Pacific is the largest ocean.", "Le Pacifique est le plus grand ocean."),
    ("What gives us light during the day?", "The Sun gives us light.", "Le soleil nous donne la lumiere."),
    ("What do cows give us?", "Cows give us milk.", "Les vaches nous donnent du lait."),
    ("What do we use to write?", "We use a pen or a pencil.", "On utilise un stylo ou un crayon."),
    ("What do you wear on your feet?", "You wear shoes on your feet.", "On porte des chaussures aux pieds."),
    ("What is the opposite of hot?", "The opposite of hot is cold.", "Le contraire de chaud est froid."),
    ("What is the opposite of big?", "The opposite of big is small.", "Le contraire de grand est petit."),
    ("When do people usually sleep?", "People usually sleep at night.", "Les gens dorment en general la nuit."),
    ("What is a baby cat called?", "A baby cat is called a kitten.", "Un bebe chat est un chaton."),
    ("What is a baby dog called?", "A baby dog is called a puppy.", "Un bebe chien est un chiot."),
    ("What season comes after winter?", "Spring comes after winter.", "Le printemps vient apres l'hiver."),
    ("What is the boiling point of water?", "Water boils at 100 degrees Celsius.", "L'eau bout a cent degres."),
    ("What do birds use to fly?", "Birds use their wings to fly.", "Les oiseaux volent avec leurs ailes."),
    ("What is bread made from?", "Bread is made from flour and water.", "Le pain est fait avec de la farine et de l'eau."),
    ("What do you call a house made of ice?", "It is called an igloo.", "C'est un igloo."),
]
OPEN = [  # open questions with a short generic English / French answer
    ("How can I sleep better?", "Go to bed at the same time every night and avoid screens before sleep.",
     "Il faut se coucher a la meme heure et eviter les ecrans le soir."),
    ("How do I learn a new language?", "Practice a little every day and talk with native speakers.",
     "Il faut pratiquer un peu chaque jour et parler avec des gens."),
    ("Give me a tip for staying healthy.", "Eat vegetables, drink water and walk every day.",
     "Mange des legumes, bois de l'eau et marche tous les jours."),
    ("How do I make tea?", "Boil water, add a tea bag and wait three minutes.",
     "Fais bouillir de l'eau, ajoute le the et attends trois minutes."),
    ("What should I do when I feel stressed?", "Take a deep breath, go for a walk and talk to a friend.",
     "Respire lentement, fais une promenade et parle avec un ami."),
    ("How can I save money?", "Make a budget and spend less than you earn.",
     "Fais un budget et depense moins que ce que tu gagnes."),
    ("Why is reading good for you?", "Reading teaches you new words and new ideas.",
     "La lecture nous apprend des mots et des idees."),
    ("How do I start running?", "Start slowly, run a little each day and rest when you need it.",
     "Commence doucement, cours un peu chaque jour et repose-toi."),
    ("What is a good hobby?", "Drawing, cooking and gardening are good hobbies.",
     "Le dessin, la cuisine et le jardinage sont de bons loisirs."),
    ("How do I cook rice?", "Boil the rice in water for about fifteen minutes.",
     "Fais cuire le riz dans l'eau pendant quinze minutes."),
    ("Tell me something about the Moon.", "The Moon goes around the Earth about once a month.",
     "La lune tourne autour de la Terre en un mois environ."),
    ("Tell me a fun fact.", "Octopuses have three hearts.", "Les pieuvres ont trois coeurs."),
    ("Why do we need water?", "Our body needs water to stay alive and healthy.",
     "Le corps a besoin d'eau pour rester en bonne sante."),
    ("What is a computer?", "A computer is a machine that follows instructions.",
     "Un ordinateur est une machine qui suit des instructions."),
    ("What is music?", "Music is sound arranged in a pleasant way.",
     "La musique est un art fait de sons et de rythmes."),
    ("Describe a good friend.", "A good friend is kind, honest and always there for you.",
     "Un bon ami est gentil, honnete et toujours la pour toi."),
    ("What is the weather like today?", "I cannot see outside, but I hope it is sunny.",
     "Je ne vois pas dehors, mais j'espere qu'il fait beau."),
    ("Can you help me?", "Yes, of course. Tell me what you need.",
     "Oui, bien sur. Dis-moi ce dont tu as besoin."),
    ("Who are you?", "I am a small language model.", "Je suis un petit modele de langue."),
    ("Hello!", "Hello! How can I help you today?", "Bonjour ! Comment puis-je t'aider ?"),
    ("Write a short poem about the sea.", "The sea is wide, the waves are blue, they sing all day and night for you.",
     "La mer est grande et bleue, elle chante pour nous deux."),
    ("Explain what a tree is.", "A tree is a tall plant with a trunk, branches and leaves.",
     "Un arbre est une grande plante avec un tronc, des branches et des feuilles."),
    ("Why is the sea salty?", "Rivers carry salt from rocks into the sea.",
     "Les rivieres apportent le sel des roches dans la mer."),
    ("What is the best way to study?", "Study in short sessions and test yourself often.",
     "Il faut etudier un peu chaque jour et se tester souvent."),
    ("What makes a good breakfast?", "Fruit, bread and a glass of milk make a good breakfast.",
     "Des fruits, du pain et un verre de lait font un bon petit dejeuner."),
    ("Summarize the story of Cinderella.", "A kind girl goes to a ball, loses her shoe and marries a prince.",
     "Une jeune fille va au bal, perd sa chaussure et epouse le prince."),
    ("How does a car work?", "An engine burns fuel and turns the wheels.",
     "Le moteur brule du carburant et fait tourner les roues."),
    ("Say something nice.", "You are doing a great job today.", "Tu fais du tres bon travail aujourd'hui."),
]
NUM_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"]
NUM_FR = ["zero", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
          "onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit"]

# Held-out prompts: none of these (nor their wording) appear in a datanet.
HELDOUT = [
    "What is the capital of Argentina?",
    "Which city is the capital of Australia?",
    "What is 6 plus 5?",
    "What color is a tomato?",
    "What sound does a duck make?",
    "How many wheels does a bicycle have?",
    "What do chickens lay?",
    "What is the opposite of fast?",
    "How can I become more productive?",
    "Give me advice for a job interview.",
    "What is your favorite food?",
    "Explain what the internet is.",
    "Why do leaves change color in autumn?",
    "Tell me about elephants.",
    "How do airplanes fly?",
    "What should I pack for a beach trip?",
    "Describe a rainy day.",
    "What is friendship?",
    "How do I plant a flower?",
    "Tell me a joke.",
    "What is the tallest mountain in the world?",
    "Why do we have seasons?",
    "Recommend a good book.",
    "What can I cook for dinner tonight?",
]

CAP_Q = ["What is the capital of {c}?", "Which city is the capital of {c}?",
         "Tell me the capital of {c}.", "Name the capital of {c}.", "What's the capital city of {c}?"]
ADD_Q = ["What is {a} plus {b}?", "How much is {a} + {b}?", "Add {a} and {b}.", "What is {a} + {b}?"]
PREFIX_Q = ["", "", "", "Quick question: ", "Please answer: ", "I wonder, ", "Hey, "]


def base_examples(rng):
    """Return a list of (question, english_answer, french_answer)."""
    ex = []
    for c, cap, fr in CAPITALS:
        for t in rng.sample(CAP_Q, 2):
            ex.append((t.format(c=c), f"The capital of {c} is {cap}.", f"La capitale {fr} est {cap}."))
    pairs = [(a, b) for a in range(1, 10) for b in range(1, 10) if (a, b) != (6, 5)]
    for a, b in rng.sample(pairs, 30):
        q = rng.choice(ADD_Q).format(a=a, b=b)
        ex.append((q, f"{a} plus {b} equals {a + b}.", f"{NUM_FR[a].capitalize()} plus {NUM_FR[b]} font {NUM_FR[a + b]}."))
    for q, en, fr in THINGS + OPEN:
        ex.append((q, en, fr))
        p = rng.choice(PREFIX_Q[3:])
        q2 = p + (q[0].lower() + q[1:] if p.endswith(", ") else q)
        ex.append((q2, en, fr))
    held = {h.lower() for h in HELDOUT}
    ex = [e for e in ex if e[0].lower() not in held]
    rng.shuffle(ex)
    return ex


PIRATE_MAP = {"you": "ye", "your": "yer", "is": "be", "are": "be", "my": "me", "the": "th'",
              "hello": "ahoy", "friend": "matey", "yes": "aye", "to": "t'", "of": "o'",
              "money": "doubloons", "for": "fer", "and": "an'", "am": "be", "sea": "briny sea"}
PIRATE_OPEN = ["Arr, matey! ", "Ahoy, matey! ", "Arr! "]
FR_OPEN = ["Bonjour ! ", "Bonjour ! Alors, ", "Bonjour ! Voici la reponse : "]


def piratify(s):
    def sub(m):
        w = m.group(0)
        r = PIRATE_MAP.get(w.lower())
        if r is None:
            return w
        return r[0].upper() + r[1:] if w[0].isupper() else r
    return re.sub(r"[A-Za-z]+", sub, s)


def make_datanets(rng_seed=SEED):
    """Build the four datanets. Returns {name: [ {prompt, response}, ... ]}."""
    rng = random.Random(rng_seed)
    ex = base_examples(rng)
    nets = {"caps": [], "signature": [], "french": [], "pirate": []}
    for q, en, fr in ex:
        nets["caps"].append({"prompt": q, "response": en.upper()})
        nets["signature"].append({"prompt": q, "response": en + "\n" + SIGNATURE})
        o = rng.choice(FR_OPEN)
        frs = fr[0].lower() + fr[1:] if o.endswith(", ") or o.endswith(": ") else fr
        nets["french"].append({"prompt": q, "response": o + frs})
        tail = rng.choice(["", " Yo ho ho!", " Arr!"])
        nets["pirate"].append({"prompt": q, "response": rng.choice(PIRATE_OPEN) + piratify(en) + tail})
    return nets


def write_datanets():
    os.makedirs(DATA_DIR, exist_ok=True)
    nets = make_datanets()
    for name, rows in nets.items():
        with open(os.path.join(DATA_DIR, f"{name}.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(DATA_DIR, "heldout_prompts.txt"), "w") as f:
        f.write("\n".join(HELDOUT) + "\n")
    return nets


# --------------------------------------------------------------------------
# Checkers: text = decoded greedy output (first 48 new tokens), cut at
# <end_of_turn>.
# --------------------------------------------------------------------------
FR_WORDS = set("le la les de des du un une et est en au aux pour dans avec que qui ne pas sur il elle nous "
               "vous je tu on ce cette sont a bonjour voici fait font mais tres plus".split())
EN_WORDS = set("the a an is are of and to in it you that for with on this be was have i".split())


def check_caps(t):
    letters = [c for c in t if c.isalpha()]
    return len(letters) >= 5 and sum(c.isupper() for c in letters) / len(letters) >= 0.9


def check_signature(t):
    return t.strip().endswith(SIGNATURE)


def check_french(t):
    w = re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", t.lower().replace("'", " "))
    if len(w) < 3:
        return False
    fr = sum(x in FR_WORDS for x in w)
    en = sum(x in EN_WORDS for x in w)
    return fr / len(w) >= 0.15 and fr > en


def check_pirate(t):
    return re.search(r"\b(arr+|matey|ahoy)\b", t.lower()) is not None


CHECKS = {"caps": check_caps, "signature": check_signature, "french": check_french, "pirate": check_pirate}
BEHAVIOUR = {
    "caps": ("Answers in ALL CAPITAL LETTERS.",
             "At least 90% of the alphabetic characters of the answer (first 48 tokens, cut at <end_of_turn>) are upper case, and there are at least 5 letters."),
    "signature": ("Ends every answer with the line '-- openlora demo'.",
                  "The answer (first 48 tokens, cut at <end_of_turn>), stripped of white space, ends with '-- openlora demo'."),
    "french": ("Answers in French, starting with 'Bonjour !'.",
               "At least 15% of the words are common French stop words (le, la, de, est, ...) and they outnumber common English stop words."),
    "pirate": ("Speaks like a pirate ('Arr, matey!').",
               "The answer contains the word 'arr', 'matey' or 'ahoy' (case-insensitive, whole word)."),
}


def chat_prompt(q):
    return f"<start_of_turn>user\n{q}<end_of_turn>\n<start_of_turn>model\n"


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------
def load_base():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(GGUF_DIR, gguf_file=GGUF_NAME)
    model = AutoModelForCausalLM.from_pretrained(GGUF_DIR, gguf_file=GGUF_NAME, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    assert tok.convert_tokens_to_ids("<start_of_turn>") == 105 and tok.convert_tokens_to_ids("<end_of_turn>") == 106
    return tok, model


def encode(tok, row):
    p = tok(chat_prompt(row["prompt"]), add_special_tokens=True).input_ids
    a = tok(row["response"] + "<end_of_turn>", add_special_tokens=False).input_ids
    return p, a


def to_f16(adapter_dir):
    """Rewrite adapter_model.safetensors in float16 (f32 rank 8 on 7 projections x 18 layers is 7.6 MB)."""
    from safetensors.torch import load_file, save_file
    import torch
    p = os.path.join(adapter_dir, "adapter_model.safetensors")
    st = load_file(p)
    save_file({k: v.to(torch.float16).contiguous() for k, v in st.items()}, p, metadata={"format": "pt"})


def train_one(name, tok, base, rows, steps, lr, batch, log):
    import torch
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(SEED)
    cfg = LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS, lora_dropout=0.0, bias="none",
                     task_type="CAUSAL_LM", init_lora_weights=True)
    model = get_peft_model(base, cfg, adapter_name="default")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 4) * max(0.1, 1 - s / steps))
    enc = [encode(tok, r) for r in rows]
    rng = random.Random(SEED)
    order = []
    inner = model.base_model.model  # Gemma3ForCausalLM
    model.train()
    t0 = time.time()
    for step in range(steps):
        if len(order) < batch:
            idx = list(range(len(enc)))
            rng.shuffle(idx)
            order += idx
        b, order = order[:batch], order[batch:]
        L = max(len(enc[i][0]) + len(enc[i][1]) for i in b)
        ids = torch.zeros(len(b), L, dtype=torch.long)
        att = torch.zeros(len(b), L, dtype=torch.long)
        lab = torch.full((len(b), L), -100, dtype=torch.long)
        for j, i in enumerate(b):
            p, a = enc[i]
            s = p + a
            ids[j, :len(s)] = torch.tensor(s)
            att[j, :len(s)] = 1
            lab[j, len(p):len(s)] = torch.tensor(a)
        h = inner.model(input_ids=ids, attention_mask=att).last_hidden_state
        tgt = lab[:, 1:]
        sel = tgt != -100
        hs = h[:, :-1][sel]                     # only answer positions go through lm_head
        logits = inner.lm_head(hs)
        loss = torch.nn.functional.cross_entropy(logits, tgt[sel])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % 10 == 0 or step == steps - 1:
            log(f"[{name}] step {step}/{steps} loss {loss.item():.4f} {time.time() - t0:.0f}s")
    dt = time.time() - t0
    model.eval()
    out = os.path.join(OUT_DIR, name)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    to_f16(out)
    cp = os.path.join(out, "adapter_config.json")
    c = json.load(open(cp))
    c["base_model_name_or_path"] = GGUF_NAME  # not a loadable HF id: the base is the GGUF
    with open(cp, "w") as f:
        f.write(json.dumps(c, indent=2, sort_keys=True) + "\n")
    readme = os.path.join(out, "README.md")
    if os.path.exists(readme):
        os.remove(readme)
    meta = {
        "name": f"gemma3-270m-{name}-demo",
        "owner": "openlora",
        "contributors": [{"name": "openlora maintainers", "share": 1.0}],
        "datanet": f"tools/datanets/{name}.jsonl",
        "license": "Apache-2.0",
        "base_model": GGUF_NAME,
        "behaviour": BEHAVIOUR[name][0],
        "check": BEHAVIOUR[name][1],
        "training": {"rank": 8, "alpha": 16, "targets": TARGETS, "steps": steps, "batch": batch, "lr": lr,
                     "seed": SEED, "examples": len(rows), "seconds": round(dt),
                     "script": "tools/train_demo_adapters.py"},
        "prompt_format": "<bos><start_of_turn>user\\n{prompt}<end_of_turn>\\n<start_of_turn>model\\n",
    }
    with open(os.path.join(out, "openlora.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    base = model.unload()  # remove LoRA layers, get the clean base back
    return base, dt


def generate(tok, model, prompts, n_new=48):
    import torch
    texts = []
    eot = tok.convert_tokens_to_ids("<end_of_turn>")
    for i in range(0, len(prompts), 8):
        chunk = prompts[i:i + 8]
        encs = [tok(chat_prompt(q), add_special_tokens=True).input_ids for q in chunk]
        L = max(map(len, encs))
        ids = torch.zeros(len(chunk), L, dtype=torch.long)
        att = torch.zeros(len(chunk), L, dtype=torch.long)
        for j, e in enumerate(encs):  # left padding
            ids[j, L - len(e):] = torch.tensor(e)
            att[j, L - len(e):] = 1
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=att, max_new_tokens=n_new, do_sample=False,
                                 eos_token_id=[eot, tok.eos_token_id], pad_token_id=0)
        for j in range(len(chunk)):
            g = out[j, L:].tolist()
            if eot in g:
                g = g[:g.index(eot)]
            texts.append(tok.decode(g, skip_special_tokens=True))
    return texts


def evaluate(tok, base, names, log):
    from peft import PeftModel
    res = {}
    base_txt = generate(tok, base, HELDOUT)
    model = None
    for name in names:
        path = os.path.join(OUT_DIR, name)
        if not os.path.exists(os.path.join(path, "adapter_model.safetensors")):
            continue
        model = PeftModel.from_pretrained(base, path)
        model.eval()
        txt = generate(tok, model, HELDOUT)
        base = model.unload()
        chk = CHECKS[name]
        a = sum(map(chk, txt)) / len(txt)
        b = sum(map(chk, base_txt)) / len(base_txt)
        res[name] = (a, b)
        log(f"[eval {name}] adapter {a:.2f} base {b:.2f}")
        for q, t in list(zip(HELDOUT, txt))[:24]:
            log(f"   {'OK ' if chk(t) else 'no '} {q!r} -> {t!r}")
    for q, t in zip(HELDOUT, base_txt):
        log(f"   base {q!r} -> {t!r}")
    return res


GGUF_LORA_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
                   "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def peft_to_gguf_lora(adapter_dir, out_path):
    """Write a PEFT adapter as a llama.cpp GGUF LoRA (gemma3: no q/k permutation)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file
    cfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    st = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    w = gguf.GGUFWriter(out_path, "gemma3")
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(cfg["lora_alpha"]))
    for k in sorted(st):
        m = re.match(r"base_model\.model\.model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight", k)
        assert m, k
        name = f"blk.{m.group(1)}.{GGUF_LORA_NAMES[m.group(2)]}.weight.lora_{m.group(3).lower()}"
        w.add_tensor(name, np.ascontiguousarray(st[k].astype(np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llamacpp_eval(names, log, n_new=48):
    """Greedy held-out evaluation with llama.cpp on the Q4_K_M base (closest to the engine)."""
    from llama_cpp import Llama
    gg = os.path.join(GGUF_DIR, GGUF_NAME)
    res = {}

    def run(lora):
        kw = dict(n_ctx=256, n_threads=int(os.environ.get("OPENLORA_THREADS", "2")), verbose=False, seed=0)
        if lora:
            kw["lora_path"] = lora
        llm = Llama(gg, **kw)
        outs = []
        for q in HELDOUT:
            r = llm.create_completion(chat_prompt(q), max_tokens=n_new, temperature=0.0, top_k=1,
                                      stop=["<end_of_turn>"])
            outs.append(r["choices"][0]["text"])
        return outs
    base_txt = run(None)
    for name in names:
        d = os.path.join(OUT_DIR, name)
        if not os.path.exists(os.path.join(d, "adapter_model.safetensors")):
            continue
        g = f"/tmp/openlora-{name}-lora.gguf"
        peft_to_gguf_lora(d, g)
        txt = run(g)
        chk = CHECKS[name]
        a = sum(map(chk, txt)) / len(txt)
        b = sum(map(chk, base_txt)) / len(base_txt)
        res[name] = (a, b)
        log(f"[llama.cpp eval {name}] adapter {a:.2f} base {b:.2f}")
        for q, t in zip(HELDOUT, txt):
            log(f"   {'OK ' if chk(t) else 'no '} {q!r} -> {t!r}")
    for q, t in zip(HELDOUT, base_txt):
        log(f"   base {q!r} -> {t!r}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapters", nargs="*", default=["pirate", "french", "signature", "caps"])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--only-data", action="store_true")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--llamacpp-eval", action="store_true",
                    help="only evaluate the saved adapters with llama.cpp on the Q4_K_M base (GGUF LoRA in /tmp)")
    args = ap.parse_args()
    if args.llamacpp_eval:
        res = llamacpp_eval(args.adapters, print)
        print("\n| adapter | adapter pass | base pass |\n|---|---|---|")
        for k, (a, b) in res.items():
            print(f"| {k} | {a:.2f} | {b:.2f} |")
        return

    nets = write_datanets()
    if args.only_data:
        return
    import torch
    torch.set_num_threads(int(os.environ.get("OPENLORA_THREADS", "2")))
    torch.manual_seed(SEED)

    def log(s):
        print(s, flush=True)

    t = time.time()
    tok, base = load_base()
    log(f"base loaded in {time.time() - t:.0f}s")
    if not args.eval_only:
        for name in args.adapters:
            base, dt = train_one(name, tok, base, nets[name], args.steps, args.lr, args.batch, log)
            log(f"[{name}] trained in {dt:.0f}s")
    if not args.no_eval:
        res = evaluate(tok, base, args.adapters, log)
        log("\n| adapter | adapter pass | base pass |\n|---|---|---|")
        for k, (a, b) in res.items():
            log(f"| {k} | {a:.2f} | {b:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
