"""The solutions printed in the lessons pass the lessons' own checks (glm_lessons.checks), the
checks refuse wrong answers, and a later solution does not break an earlier one in the same
kernel (issue 11: exercise 4 of lesson 02 once redefined chat() so that exercise 2's solution
failed).

Each test runs the lesson's teaching cells (everything before "## Exercises", the setup cell
replaced by a recorded server of the test's own), then the solution's code block from the
Markdown, then calls the check directly: the method and the argument names are the ones of the
lesson's one-line check cell (`check.third(third, conversation, second)`), the arguments' values
the test's namespace.
"""

import re

import pytest

import glm_offline
from glm_lessons import environment
from helpers import CORRECT, NOTEBOOKS, SOLUTION, checked, exercise, hints, refuses, run, taught

pytestmark = pytest.mark.usefixtures("urllib3_logger_restored")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_01_solutions_pass_their_checks(language, lenient_server):
    name = "01-keys-and-tokens.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    for number in (3, 5):  # exercise 2 has no check; 3-5 go with the deep dive
        code, _, check = exercise(exercises, number)
        run(code, namespace)
        assert checked(language, name, check, namespace).startswith(CORRECT), number


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_01_forged_check_refuses_a_token_signed_with_the_real_secret(language,
                                                                           lenient_server):
    name = "01-keys-and-tokens.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 5)
    assert hints(language, name, answer, check, namespace)
    run(code.replace('"x" * 32', "secret"), namespace)  # the right secret: a valid token
    assert refuses(language, name, check, namespace)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_02_solutions_pass_their_checks_and_keep_earlier_ones_working(language,
                                                                             lenient_server):
    name = "02-chat-completions.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, _, check = exercise(exercises, 3)
    with pytest.raises(ValueError, match="cut short"):
        run(code, namespace)  # the solution ends by showing the ValueError for `short`
    assert checked(language, name, check, namespace).strip() in CORRECT
    code, _, check = exercise(exercises, 4)
    assert refuses(language, name, check, namespace)  # chat() has no session parameter yet
    # the second turn of section 4 again, through one session
    assert run(code, namespace).strip() == namespace["second"]["choices"][0]["message"]["content"]
    assert checked(language, name, check, namespace).strip() in CORRECT
    run("def chat(messages, session=None, **options):  # the session left unused\n"
        "    body = {'model': MODEL, 'messages': messages, **options}\n"
        "    return requests.post(CHAT_URL, headers=HEADERS, json=body, timeout=30).json()\n",
        namespace)
    assert refuses(language, name, check, namespace)  # two calls, two connections
    code, _, _ = exercise(exercises, 4)
    run(code, namespace)  # exercise 4's chat() again, for exercise 2 below
    # exercise 2's solution, run after exercise 4 redefined chat(), still works
    exercise_2 = SOLUTION.findall(next(c.source for c in exercises
                                       if c.cell_type == "markdown" and "**2.**" in c.source))[0]
    printed = run(exercise_2, namespace)
    assert namespace["third"]["choices"][0]["message"]["content"] in printed
    assert namespace["third"]["usage"]["prompt_tokens"] > \
        namespace["second"]["usage"]["prompt_tokens"]


# -- issue 13: the checks of lessons 01-05 accept the solution and refuse a wrong answer --
# Each case: lesson, exercise, and a wrong answer run after the solution (written by hand here),
# which the same check must refuse.

WRONG_ANSWERS = {
    ("01-keys-and-tokens.ipynb", 3): "def token_seconds_left(token, now_ms):\n"
                                     "    return round((jwt.decode(token, options={"
                                     "'verify_signature': False})['exp'] - now_ms) / 1000)",
    ("01-keys-and-tokens.ipynb", 4): "new_token_times = [0, 180]  # the 30-second answer",
    ("02-chat-completions.ipynb", 1): 'error_codes = [(400, "1210")] * 3',
    ("02-chat-completions.ipynb", 2): "third = first  # a turn sent without the conversation",
    ("03-streaming.ipynb", 1):
        'predicted = ([Event(data="a"), Event(data="b")], [Event(data="x")])',
    ("03-streaming.ipynb", 2): "stream_folded = stream_chat  # prints the reasoning",
    ("04-thinking-models.ipynb", 3): "def show_folded(chunks):\n    return show_stream(chunks)[1]",
    ("04-thinking-models.ipynb", 4):
        'follow_up = question + [reply["choices"][0]["message"], '
        '{"role": "user", "content": follow_up[-1]["content"]}]  # reasoning kept',
    ("05-errors-and-retries.ipynb", 1): "attempts_made = {1261: 3, 1234: 3}  # 1261 retried",
    ("05-errors-and-retries.ipynb", 3): """
def with_budget(send, max_total_seconds, sleep=time.sleep, clock=time.monotonic,
                rng=random.random):  # a cap on retries, not on time
    for delay in backoff_delays(attempts=4, rng=rng):
        try:
            return send()
        except APIError:
            sleep(delay)
    return send()
""",
    ("05-errors-and-retries.ipynb", 4): """
def stream_with_deadline(total_seconds, clock=time.monotonic):  # never looks at the clock
    body = {"model": MODEL, "messages": days, "stream": True}
    with session.post(CHAT_URL, json=body, stream=True, timeout=(5, 60)) as response:
        return Answer.from_chunks(iter_chunks(response))
""",
}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize(("name", "number"), list(WRONG_ANSWERS))
def test_checks_accept_the_solution_and_refuse_a_wrong_answer(name, number, language,
                                                              lenient_server):
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, number)
    assert hints(language, name, answer, check, namespace)  # the hint, not a traceback
    run(code, namespace)
    assert checked(language, name, check, namespace).strip() in CORRECT
    run(WRONG_ANSWERS[name, number], namespace)
    assert refuses(language, name, check, namespace)


# -- issue 13: the checks of lessons 06-08 (several wrong answers each) --

@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_06_checks_take_the_solutions_and_refuse_wrong_answers(language, lenient_server):
    name = "06-tool-calls.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 1)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)  # lenient: no recording answers the question about Paris
    assert checked(language, name, check, namespace).startswith(CORRECT)
    namespace["paris"] = {"city": "Paris", "sky": "unknown"}  # a made-up weather, not an error
    assert refuses(language, name, check, namespace)

    _, _, check = exercise(exercises, 2)  # the lesson's parse_tool_call has no type check
    assert checked(language, name, check, namespace) in (
        'parse_tool_call() let celsius="26" through: add the type check above\n',
        'parse_tool_call() 放过了 celsius="26"：先在上面加上类型检查\n')

    code, answer, check = exercise(exercises, 3)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)
    assert checked(language, name, check, namespace).startswith(CORRECT)
    every_one_named = [{**piece, "id": "call_1"} for piece in namespace["pieces"]]
    namespace["pieces"] = every_one_named
    assert refuses(language, name, check, namespace)
    assert re.search("only the first|只有第一个", checked(language, name, check, namespace))

    code, answer, check = exercise(exercises, 4)
    assert hints(language, name, answer, check, namespace)
    run(code, namespace)  # run_conversation prints each tool result, then the verdict
    assert checked(language, name, check, namespace).splitlines()[-1].startswith(CORRECT)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_07_connection_count_check(language, lenient_server):
    name = "07-client.ipynb"
    namespace, exercises = taught(language, name, lenient_server)
    code, answer, check = exercise(exercises, 3)
    assert hints(language, name, answer, check, namespace)
    assert run(code, namespace).startswith("3")  # the solution counts itself, on the server
    assert checked(language, name, check, namespace).startswith(CORRECT)
    namespace["unread_connections"] = 1  # what the client does with _read_to_end left alone
    assert refuses(language, name, check, namespace)


UNCAPPED = """
import threading

def ask_all_threads(questions, ask_async=ask_async):
    answers = [None] * len(questions)

    def ask(index, question):
        answers[index] = ask_async(question)

    threads = [threading.Thread(target=ask, args=pair) for pair in enumerate(questions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers
"""

IN_FINISHING_ORDER = """
import threading

def ask_all_threads(questions, ask_async=ask_async):
    gate, answers = threading.Semaphore(MAX_OPEN), []

    def ask(question):
        with gate:
            answers.append(ask_async(question))

    threads = [threading.Thread(target=ask, args=(question,)) for question in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers
"""

SLEEPS_PER_TASK = """
def collect(task_ids, deadline_s=120, sleep=time.sleep, now=time.monotonic, rng=random.random,
            poll=poll):
    done, pending, give_up_at = {}, set(task_ids), now() + deadline_s
    delays = backoff_delays(attempts=60, rng=rng)
    while pending:
        for task_id in sorted(pending):
            record = poll(task_id)
            if record["task_status"] != "PROCESSING":
                done[task_id] = record
                pending.discard(task_id)
                continue
            delay = next(delays)
            if now() + delay > give_up_at:
                return done, pending
            sleep(delay)
    return done, pending
"""


class TestLesson08:
    """Lesson 08: the checks pass stand-ins for ask_async and poll, as the exercises ask. A class
    of its own, so that the suite's workers (--dist loadscope) run its real waits beside the
    others' (the lesson's polling clock sleeps)."""

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_lesson_08_checks_take_the_solutions_and_refuse_wrong_answers(self, language,
                                                                          lenient_server):
        name = "08-async-chat.ipynb"
        namespace, exercises = taught(language, name, lenient_server)
        code, answer, check = exercise(exercises, 1)
        assert hints(language, name, answer, check, namespace)
        run(code, namespace)  # a real task on the recorded server, after two refusals
        assert checked(language, name, check, namespace).startswith(CORRECT)
        run("def with_retries(send, *args, sleep=time.sleep, rng=random.random):\n"
            "    return send(*args)  # never retries", namespace)
        assert refuses(language, name, check, namespace)
        assert "1302" in checked(language, name, check, namespace)

        code, answer, check = exercise(exercises, 2)
        assert hints(language, name, answer, check, namespace)
        run(code, namespace)  # real tasks on the recorded server
        assert checked(language, name, check, namespace).startswith(CORRECT)
        for wrong, refusal in [(IN_FINISHING_ORDER, "order|顺序"), (UNCAPPED, "ask_async")]:
            run(wrong, namespace)
            assert refuses(language, name, check, namespace)
            assert re.search(refusal, checked(language, name, check, namespace))
        assert namespace["ask_async"].__name__ == "ask_async", "the learner's ask_async is kept"

        code, answer, check = exercise(exercises, 3)
        assert hints(language, name, answer, check, namespace)
        run(code, namespace)
        assert namespace["pending_question"] == namespace["questions"][0]  # the capital of France
        assert checked(language, name, check, namespace).startswith(CORRECT)
        assert namespace["poll"].__name__ == "poll", "the learner's poll is kept"
        namespace["pending_question"] = namespace["questions"][1]
        assert refuses(language, name, check, namespace)
        namespace["pending_question"] = namespace["questions"][0]
        run(SLEEPS_PER_TASK, namespace)
        assert refuses(language, name, check, namespace)


NEVER_LOOKS_AT_THE_CLOCK = """
def stream_within(client, messages, seconds):
    chunks = client.chat.completions.create(model=MODEL, messages=messages, stream=True)
    return "".join(choice.delta.content or "" for chunk in chunks for choice in chunk.choices)
"""


class TestLesson09:
    """Lesson 09's deadline check is passed by a recorded silence, not by pacing. A class of its
    own, so that the suite's workers run its waits beside the others' (the SDKs' retries
    sleep)."""

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_lesson_09_deadline_check_times_a_recorded_silence(self, language, lenient_server):
        """The check's deadline is passed by a 1-second stall the server injects, not by pacing."""
        name = "09-sdks.ipynb"
        namespace, exercises = taught(language, name, lenient_server)
        code, answer, check = exercise(exercises, 3)
        assert hints(language, name, answer, check, namespace)
        run(code, namespace)
        assert checked(language, name, check, namespace).startswith(CORRECT)
        run(NEVER_LOOKS_AT_THE_CLOCK, namespace)
        assert refuses(language, name, check, namespace)


# -- issue 20: the capstone's seven steps, each one function of the program, built in order --

CAPSTONE_WRONG = {  # a wrong answer to each step, written by hand, that its check must refuse
    1: """
def ask(client, question):  # the Answer, not its text
    return client.chat([{"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": question}])
""",
    2: """
def stream_answer(client, messages, out, **options):  # the reasoning never shown
    answer = client.stream(messages, on_content=out.write, **options)
    out.write("\\n")
    return answer
""",
    3: """
def answer_turn(client, history, out, **options):  # the answer never kept
    return stream_answer(client, history, out, **options)
""",
    4: """
def trim_history(messages, budget, count=rough_tokens):  # message by message: cuts a turn
    kept = list(messages)
    while sum(map(count, kept)) > budget and len(kept) > 2:
        del kept[1]
    return kept, len(messages) - len(kept)
""",
    5: """
def answer_with_tools(client, history, out):  # the call asked for is never run
    return answer_turn(client, history, out, tools=TOOLS)
""",
    6: """
def take_turn(client, history, question, out, budget):  # a failure is a traceback
    history, dropped = trim_history(history + [{"role": "user", "content": question}], budget)
    if dropped:
        out.write(f"(history trimmed: {dropped} older messages dropped)\\n")
    answer_with_tools(client, history, out)
    return history
""",
    7: """
def chat(client, stdin, out, budget=4000):  # Ctrl-C is a traceback
    history = [{"role": "system", "content": SYSTEM_PROMPT}]
    while True:
        out.write("you> ")
        line = stdin.readline()
        if not line or line.strip() == "/quit":
            break
        if line.strip():
            history = take_turn(client, history, line.strip(), out, budget)
    out.write("goodbye\\n")
""",
}


class TestLesson10:
    """The capstone's steps: the solutions, run in order against a strict server (so every
    request they make is recorded), each pass their check; each wrong answer, run after all the
    solutions, is refused (against a lenient server: some of them ask what nobody recorded)."""

    NAME = "10-capstone.ipynb"

    def taught_at(self, language, server, monkeypatch):
        monkeypatch.chdir(NOTEBOOKS / language)  # a kernel's folder: the lesson finds capstone/
        return taught(language, self.NAME, server)

    def solved(self, language, namespace, exercises):
        for number in range(1, 8):
            code, answer, check = exercise(exercises, number)
            assert hints(language, self.NAME, answer, check, namespace), number
            run(code, namespace)
            verdict = checked(language, self.NAME, check, namespace)
            assert verdict == CORRECT[language == "zh"] + "\n", (number, verdict)
        return namespace

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_the_steps_in_order_pass_their_checks_on_recordings_alone(self, language,
                                                                         monkeypatch):
        with glm_offline.start(pacing="instant", strict=True) as server, \
                environment.pointed_at(server):  # what connect() exports: the recipe reads them
            namespace, exercises = self.taught_at(language, server, monkeypatch)
            self.solved(language, namespace, exercises)
            assert {exchange.status for exchange in server.history} == {200, 429}  # the 1302

    @pytest.mark.parametrize("language", ["en", "zh"])
    def test_a_wrong_answer_to_each_step_is_refused(self, language, lenient_server, monkeypatch):
        with environment.pointed_at(lenient_server):  # what connect() exports
            namespace, exercises = self.taught_at(language, lenient_server, monkeypatch)
            self.solved(language, namespace, exercises)
            for number, wrong in CAPSTONE_WRONG.items():
                attempt = dict(namespace)  # the other steps stay solved
                run(wrong, attempt)
                _, _, check = exercise(exercises, number)
                assert refuses(language, self.NAME, check, attempt), number
            attempt = dict(namespace)  # step 3 sends a tool call back without its reasoning:
            run("def answer_turn(client, history, out, **options):\n"  # step 5 says where
                "    answer = stream_answer(client, history, out, **options)\n"
                "    history.append(answer.as_message())\n"
                "    return answer\n", attempt)
            code, _, check = exercise(exercises, 5)
            run(code, attempt)  # step 5's solution, calling this answer_turn
            assert "answer_turn()" in checked(language, self.NAME, check, attempt)
