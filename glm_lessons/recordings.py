"""The one line a lesson's setup prints about its recordings, in the lesson's language:
how they were made and when they were last checked against the live API. The data (a
cassette's metadata.provenance) and how several cassettes combine are glm_offline.provenance's.
"""

from glm_offline import provenance

LINES = {
    "en": {"transcribed": "Recordings: transcribed from documented and publicly captured GLM "
                          "traffic, not captured live",
           "captured": "Recordings: captured live on {date} from {model}",
           "mixed": "Recordings: partly transcribed from documented and publicly captured GLM "
                    "traffic, partly captured live on {date} from {model}",
           "drift": "last drift check: {verdict} ({date})",
           "no drift": "last drift check: none",
           "joiner": "; "},
    "zh": {"transcribed": "录制文件：依据文档与公开流量整理，并非现场抓取",
           "captured": "录制文件：{date} 现场抓取，模型为 {model}",
           "mixed": "录制文件：部分依据文档与公开流量整理，"
                    "部分于 {date} 现场抓取（模型为 {model}）",
           "drift": "最近一次漂移检查：{verdict}（{date}）",
           "no drift": "最近一次漂移检查：无",
           "joiner": "；"},
}
VERDICT_WORDS = {"en": {}, "zh": {"identical": "完全一致", "benign": "仅数值不同",
                                  "notable": "出现新字段", "critical": "有严重变化",
                                  "redirected": "换了模型", "skipped": "未能检查"}}


def lesson_line(lesson, language):
    """The line for lesson "NN", or None when it has no cassette."""
    found = provenance.lesson_provenance(lesson)
    return line(provenance.combined(found), language) if found else None


def line(made_how, language):
    """The one line for a provenance (glm_offline.provenance's dict), in `language`."""
    words = LINES[language]
    made = words[made_how["made"]].format(date=made_how.get("captured_at"),
                                          model=made_how.get("model_served"))
    check = made_how.get("last_drift")
    if check:
        verdict = VERDICT_WORDS[language].get(check["verdict"], check["verdict"])
        drift = words["drift"].format(verdict=verdict, date=check["checked_at"])
    else:
        drift = words["no drift"]
    return made + words["joiner"] + drift
