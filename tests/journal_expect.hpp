// The journal entry mqtrace(8) promises for a JSON line, spelled out once
// for the tests (independently of src/journal.cpp): every MQTRACE_* field,
// PRIORITY= and SYSLOG_IDENTIFIER= (MESSAGE=, the text line, is compared apart).
//   call:  MQTRACE_EVENT, _SCHEMA, _TIME_NS, _CPU, _PID, _TID, _COMM, _RET, _ERRNO,
//          _LATENCY_NS, _END (absent where JSON has null);
//          "args": MQTRACE_ARG_<NAME>=value, struct members MQTRACE_ARG_<NAME>_<MEMBER>
//          (absent where JSON has null); "late": MQTRACE_LATE_<NAME>[_<MEMBER>];
//          "arg_info": MQTRACE_ARG_<NAME>_SOURCE, _TAGS (comma-separated),
//          _UNREADABLE, _LOSSY=1, _SUSPECT_FAULT=1 ("hex" has no field: values are bytes);
//          "out": MQTRACE_OUT_<NAME>[_<MEMBER>]; "out_late": MQTRACE_LATE_OUT_<NAME>[_<MEMBER>];
//          "out_info": MQTRACE_OUT_<NAME>_SOURCE, _UNREADABLE; "body"/"body_late": MQTRACE_BODY,
//          MQTRACE_LATE_BODY; "body_info": MQTRACE_BODY_SOURCE, _LEN, _CUT=1, _UNREADABLE;
//          "queue": MQTRACE_QUEUE (name) or MQTRACE_QUEUE_KEY, MQTRACE_QUEUE_SOURCE;
//          --flows: MQTRACE_MSG_ID (absent when null), _LINK, _COPY=1, _CANDIDATES, _LINK_WHY,
//          _QUEUED_NS, "from": MQTRACE_FROM_PID, _FROM_TID, _FROM_COMM
//   lost:  MQTRACE_EVENT=lost, _SCHEMA, _TIME_NS, _CPU, _COUNT, _WHERE
//   PRIORITY: 4 lost, 5 a call with an errno, 6 any other call.
#pragma once

#include "json.hpp"

#include <map>
#include <stdexcept>
#include <string>

namespace journalexpect {

using Fields = std::map<std::string, std::string>;

inline std::string upper(const std::string& s) {
    std::string out;
    for (char c : s)
        out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : (c == '.' ? '_' : c);
    return out;
}

// A scalar JSON value as its field value: a string's bytes, a number's digits.
inline std::string scalar(const testjson::Value& v) {
    if (v.type == testjson::Value::String || v.type == testjson::Value::Number) return v.text;
    if (v.type == testjson::Value::Bool) return v.b ? "1" : "0";
    throw std::runtime_error("not a scalar");
}

// A value of "args" or "late": a scalar, or a struct's members.
inline void value(Fields& f, const std::string& name, const testjson::Value& v) {
    if (v.is_null()) return;
    if (v.type == testjson::Value::Object) {
        for (const auto& [m, mv] : v.fields)
            f[name + "_" + upper(m)] = scalar(mv);
        return;
    }
    f[name] = scalar(v);
}

inline Fields from_json(const testjson::Value& j) {
    Fields f;
    f["SYSLOG_IDENTIFIER"] = "mqtrace";
    const std::string ev = j["event"].s();
    f["MQTRACE_EVENT"] = ev;
    f["MQTRACE_SCHEMA"] = scalar(j["schema"]);
    f["MQTRACE_TIME_NS"] = scalar(j["time_ns"]);
    if (!j["cpu"].is_null()) f["MQTRACE_CPU"] = scalar(j["cpu"]);
    if (ev == "lost") {
        f["PRIORITY"] = "4";
        if (!j["count"].is_null()) f["MQTRACE_COUNT"] = scalar(j["count"]);
        f["MQTRACE_WHERE"] = j["where"].s();
        return f;
    }
    f["PRIORITY"] = j["errno"].is_null() ? "6" : "5";
    for (const char* k : {"pid", "tid", "comm", "ret", "errno", "latency_ns", "end"})
        if (!j[k].is_null()) f["MQTRACE_" + upper(k)] = scalar(j[k]);
    for (const auto& [arg, v] : j["args"].fields)
        value(f, "MQTRACE_ARG_" + upper(arg), v);
    if (j.has("late"))
        for (const auto& [arg, v] : j["late"].fields)
            value(f, "MQTRACE_LATE_" + upper(arg), v);
    for (const auto& [arg, info] : j["arg_info"].fields) {
        const std::string p = "MQTRACE_ARG_" + upper(arg);
        f[p + "_SOURCE"] = info["source"].s();
        std::string tags;
        for (const auto& t : info["tags"].items)
            tags += (tags.empty() ? "" : ",") + t.s();
        f[p + "_TAGS"] = tags;
        if (info.has("unreadable")) f[p + "_UNREADABLE"] = info["unreadable"].s();
        if (info.has("lossy") && info["lossy"].b) f[p + "_LOSSY"] = "1";
        if (info.has("suspect_fault") && info["suspect_fault"].b) f[p + "_SUSPECT_FAULT"] = "1";
    }
    if (j.has("out"))
        for (const auto& [out, v] : j["out"].fields)
            value(f, "MQTRACE_OUT_" + upper(out), v);
    if (j.has("out_late"))
        for (const auto& [out, v] : j["out_late"].fields)
            value(f, "MQTRACE_LATE_OUT_" + upper(out), v);
    if (j.has("out_info"))
        for (const auto& [out, info] : j["out_info"].fields) {
            f["MQTRACE_OUT_" + upper(out) + "_SOURCE"] = info["source"].s();
            if (info.has("unreadable"))
                f["MQTRACE_OUT_" + upper(out) + "_UNREADABLE"] = info["unreadable"].s();
        }
    if (j.has("queue")) {
        const testjson::Value& q = j["queue"];
        if (q.has("name")) f["MQTRACE_QUEUE"] = q["name"].s();
        if (q.has("key")) f["MQTRACE_QUEUE_KEY"] = scalar(q["key"]);
        f["MQTRACE_QUEUE_SOURCE"] = q["source"].s();
    }
    if (j.has("msg_id") && !j["msg_id"].is_null()) f["MQTRACE_MSG_ID"] = scalar(j["msg_id"]);
    if (j.has("link")) f["MQTRACE_LINK"] = j["link"].s();
    if (j.has("copy")) f["MQTRACE_COPY"] = "1";
    if (j.has("candidates")) f["MQTRACE_CANDIDATES"] = scalar(j["candidates"]);
    if (j.has("link_why")) f["MQTRACE_LINK_WHY"] = j["link_why"].s();
    if (j.has("queued_ns")) f["MQTRACE_QUEUED_NS"] = scalar(j["queued_ns"]);
    if (j.has("from")) {
        if (!j["from"]["pid"].is_null()) f["MQTRACE_FROM_PID"] = scalar(j["from"]["pid"]);
        f["MQTRACE_FROM_TID"] = scalar(j["from"]["tid"]);
        if (!j["from"]["comm"].is_null()) f["MQTRACE_FROM_COMM"] = j["from"]["comm"].s();
    }
    if (j.has("body")) f["MQTRACE_BODY"] = j["body"].s();
    if (j.has("body_late")) f["MQTRACE_LATE_BODY"] = j["body_late"].s();
    if (j.has("body_info")) {
        const testjson::Value& info = j["body_info"];
        f["MQTRACE_BODY_SOURCE"] = info["source"].s();
        f["MQTRACE_BODY_LEN"] = scalar(info["len"]);
        if (info.has("cut") && info["cut"].b) f["MQTRACE_BODY_CUT"] = "1";
        if (info.has("unreadable")) f["MQTRACE_BODY_UNREADABLE"] = info["unreadable"].s();
    }
    return f;
}

} // namespace journalexpect
