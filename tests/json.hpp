// A small JSON reader for the tests: enough to check mqtrace's JSON lines
// field by field. \u00XX escapes decode to the byte XX (mqtrace escapes the
// bytes of non-UTF-8 strings that way).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace testjson {

struct Value {
    enum Type { Null, Bool, Number, String, Array, Object } type = Null;
    bool b = false;
    std::string text; // String: the bytes; Number: the literal
    std::vector<Value> items;
    std::map<std::string, Value> fields;

    bool is_null() const { return type == Null; }
    std::int64_t i() const {
        if (type != Number) throw std::runtime_error("not a number");
        return std::stoll(text);
    }
    const std::string& s() const {
        if (type != String) throw std::runtime_error("not a string");
        return text;
    }
    const Value& operator[](const std::string& k) const {
        auto it = fields.find(k);
        if (type != Object || it == fields.end()) throw std::runtime_error("no field " + k);
        return it->second;
    }
    bool has(const std::string& k) const { return type == Object && fields.count(k); }
};

class Parser {
public:
    explicit Parser(const std::string& s) : s_(s) {}
    Value parse() {
        Value v = value();
        ws();
        if (p_ != s_.size()) fail("trailing data");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& why) {
        throw std::runtime_error("json: " + why + " at " + std::to_string(p_) + " in: " + s_);
    }
    void ws() {
        while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r'))
            ++p_;
    }
    bool eat(const char* lit) {
        std::string l(lit);
        if (s_.compare(p_, l.size(), l) == 0) {
            p_ += l.size();
            return true;
        }
        return false;
    }
    Value value() {
        ws();
        Value v;
        if (p_ >= s_.size()) fail("unexpected end");
        const char c = s_[p_];
        if (c == '{') {
            v.type = Value::Object;
            ++p_;
            ws();
            if (eat("}")) return v;
            for (;;) {
                ws();
                Value k = value();
                if (k.type != Value::String) fail("key not a string");
                ws();
                if (!eat(":")) fail("expected :");
                v.fields[k.text] = value();
                ws();
                if (eat("}")) return v;
                if (!eat(",")) fail("expected , or }");
            }
        }
        if (c == '[') {
            v.type = Value::Array;
            ++p_;
            ws();
            if (eat("]")) return v;
            for (;;) {
                v.items.push_back(value());
                ws();
                if (eat("]")) return v;
                if (!eat(",")) fail("expected , or ]");
            }
        }
        if (c == '"') {
            v.type = Value::String;
            ++p_;
            while (p_ < s_.size() && s_[p_] != '"') {
                char ch = s_[p_++];
                if (static_cast<unsigned char>(ch) < 0x20) fail("raw control character in string");
                if (ch != '\\') {
                    v.text += ch;
                    continue;
                }
                if (p_ >= s_.size()) fail("bad escape");
                char e = s_[p_++];
                switch (e) {
                case '"': v.text += '"'; break;
                case '\\': v.text += '\\'; break;
                case '/': v.text += '/'; break;
                case 'n': v.text += '\n'; break;
                case 't': v.text += '\t'; break;
                case 'r': v.text += '\r'; break;
                case 'b': v.text += '\b'; break;
                case 'f': v.text += '\f'; break;
                case 'u': {
                    if (p_ + 4 > s_.size()) fail("bad \\u");
                    unsigned cp = static_cast<unsigned>(std::stoul(s_.substr(p_, 4), nullptr, 16));
                    p_ += 4;
                    if (cp < 0x100)
                        v.text += static_cast<char>(cp);
                    else
                        fail("\\u above 0xff not expected from mqtrace");
                    break;
                }
                default: fail("bad escape");
                }
            }
            if (!eat("\"")) fail("unterminated string");
            return v;
        }
        if (eat("null")) return v;
        if (eat("true")) {
            v.type = Value::Bool;
            v.b = true;
            return v;
        }
        if (eat("false")) {
            v.type = Value::Bool;
            return v;
        }
        v.type = Value::Number;
        const std::size_t start = p_;
        while (p_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p_])) || s_[p_] == '-' ||
                                  s_[p_] == '+' || s_[p_] == '.' || s_[p_] == 'e' || s_[p_] == 'E'))
            ++p_;
        if (p_ == start) fail("unexpected character");
        v.text = s_.substr(start, p_ - start);
        return v;
    }
    const std::string& s_;
    std::size_t p_ = 0;
};

inline Value parse(const std::string& s) { return Parser(s).parse(); }

// Lower-case hex of bytes, as mqtrace's "hex" field writes them.
inline std::string hex(const std::string& s) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += d[c >> 4];
        out += d[c & 15];
    }
    return out;
}

// Canonical text of a value (object members in key order), for comparisons.
inline std::string dump(const Value& v) {
    switch (v.type) {
    case Value::Null: return "null";
    case Value::Bool: return v.b ? "true" : "false";
    case Value::Number: return v.text;
    case Value::String: {
        std::string o = "\"";
        for (unsigned char c : v.text) {
            if (c == '"' || c == '\\') {
                o += '\\';
                o += static_cast<char>(c);
            } else if (c < 0x20) {
                static const char* hex = "0123456789abcdef";
                o += "\\u00";
                o += hex[c >> 4];
                o += hex[c & 15];
            } else {
                o += static_cast<char>(c);
            }
        }
        return o + "\"";
    }
    case Value::Array: {
        std::string o = "[";
        for (std::size_t i = 0; i < v.items.size(); ++i)
            o += (i ? "," : "") + dump(v.items[i]);
        return o + "]";
    }
    case Value::Object: {
        std::string o = "{";
        bool first = true;
        for (const auto& [k, x] : v.fields) {
            o += (first ? "\"" : ",\"") + k + "\":" + dump(x);
            first = false;
        }
        return o + "}";
    }
    }
    return "";
}

} // namespace testjson
