#include "server/visibility/list_filter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace temporalio::server::visibility {

namespace ev1 = temporal::api::enums::v1;

enum class Op {
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kNotIn,
  kBetween,
  kStartsWith,
  kIsNull,
  kNotNull
};

struct ListFilter::Node {
  enum Kind { kAnd, kOr, kCompare } kind = kCompare;
  std::shared_ptr<const Node> left, right;
  std::string field;
  IndexedValueType type = ev1::INDEXED_VALUE_TYPE_KEYWORD;
  bool custom = false;  // read from the run's search attributes
  Op op = Op::kEq;
  std::vector<AttributeValue> values;
};

namespace {

struct Token {
  enum Type { kIdent, kString, kOp, kLParen, kRParen, kComma, kEnd } type;
  std::string text;
};

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid query: ", std::string(what)));
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '`' || c == '.' ||
         c == '-' || c == ':' || c == '+';
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
    char next = i + 1 < q.size() ? q[i + 1] : '\0';
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(') {
      out.push_back({Token::kLParen, "("});
      ++i;
    } else if (c == ')') {
      out.push_back({Token::kRParen, ")"});
      ++i;
    } else if (c == ',') {
      out.push_back({Token::kComma, ","});
      ++i;
    } else if (c == '=') {
      out.push_back({Token::kOp, "="});
      ++i;
    } else if (c == '!' && next == '=') {
      out.push_back({Token::kOp, "!="});
      i += 2;
    } else if (c == '<' && next == '>') {
      out.push_back({Token::kOp, "!="});
      i += 2;
    } else if (c == '<' || c == '>') {
      std::string op(1, c);
      if (next == '=') op += '=';
      out.push_back({Token::kOp, op});
      i += op.size();
    } else if (c == '\'' || c == '"') {
      size_t end = q.find(c, i + 1);
      if (end == std::string_view::npos) return Invalid("unterminated string");
      out.push_back({Token::kString, std::string(q.substr(i + 1, end - i - 1))});
      i = end + 1;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '`' ||
               (c == '-' && std::isdigit(static_cast<unsigned char>(next)))) {
      size_t start = i++;
      while (i < q.size() && IsWordChar(q[i])) ++i;
      std::string word(q.substr(start, i - start));
      word.erase(std::remove(word.begin(), word.end(), '`'), word.end());
      out.push_back({Token::kIdent, word});
    } else {
      return Invalid(absl::StrCat("unexpected '", std::string(1, c), "'"));
    }
  }
  out.push_back({Token::kEnd, ""});
  return out;
}

std::string StatusName(ev1::WorkflowExecutionStatus s) {
  switch (s) {
    case ev1::WORKFLOW_EXECUTION_STATUS_RUNNING:
      return "Running";
    case ev1::WORKFLOW_EXECUTION_STATUS_COMPLETED:
      return "Completed";
    case ev1::WORKFLOW_EXECUTION_STATUS_FAILED:
      return "Failed";
    case ev1::WORKFLOW_EXECUTION_STATUS_CANCELED:
      return "Canceled";
    case ev1::WORKFLOW_EXECUTION_STATUS_TERMINATED:
      return "Terminated";
    case ev1::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
      return "ContinuedAsNew";
    case ev1::WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
      return "TimedOut";
    default:
      return "Unspecified";
  }
}

bool IsStatusName(const std::string& s) {
  for (int i = ev1::WORKFLOW_EXECUTION_STATUS_RUNNING;
       i <= ev1::WORKFLOW_EXECUTION_STATUS_TIMED_OUT; ++i) {
    if (StatusName(static_cast<ev1::WorkflowExecutionStatus>(i)) == s) return true;
  }
  return false;
}

// A literal of the query as a value of `type`.
absl::StatusOr<AttributeValue> ParseLiteral(const std::string& field, IndexedValueType type,
                                            const Token& token) {
  const std::string& text = token.text;
  auto bad = [&] {
    return Invalid(absl::StrCat("invalid ", TypeName(type), " value '", text, "' for ", field));
  };
  AttributeValue v;
  switch (type) {
    case ev1::INDEXED_VALUE_TYPE_KEYWORD:
    case ev1::INDEXED_VALUE_TYPE_TEXT:
    case ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST:
      if (field == "ExecutionStatus" && !IsStatusName(text)) {
        return Invalid(absl::StrCat("invalid ExecutionStatus value '", text, "'"));
      }
      v.strings.push_back(text);
      return v;
    case ev1::INDEXED_VALUE_TYPE_INT: {
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, v.int_value);
      if (ec != std::errc() || ptr != end || text.empty()) return bad();
      return v;
    }
    case ev1::INDEXED_VALUE_TYPE_DOUBLE: {
      char* end = nullptr;
      v.double_value = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) return bad();
      return v;
    }
    case ev1::INDEXED_VALUE_TYPE_BOOL: {
      std::string lower = absl::AsciiStrToLower(text);
      if (lower != "true" && lower != "false") return bad();
      v.bool_value = lower == "true";
      return v;
    }
    case ev1::INDEXED_VALUE_TYPE_DATETIME: {
      if (auto ns = ParseRfc3339(text)) {
        v.int_value = *ns;
        return v;
      }
      // Unix nanoseconds, as the real server also accepts.
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, v.int_value);
      if (ec != std::errc() || ptr != end || text.empty()) return bad();
      return v;
    }
    default:
      return bad();
  }
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const SearchAttributeTypes& custom)
      : t_(std::move(tokens)), custom_(custom) {}

  absl::StatusOr<std::shared_ptr<const ListFilter::Node>> ParseAll() {
    if (Peek().type == Token::kEnd) return nullptr;
    if (IsWord("ORDER")) return nullptr;
    auto node = ParseOr();
    if (!node.ok()) return node;
    if (IsWord("ORDER")) return node;  // ordering is not configurable here
    if (Peek().type != Token::kEnd) return Invalid(absl::StrCat("unexpected '", Peek().text, "'"));
    return node;
  }

 private:
  using NodePtr = std::shared_ptr<const ListFilter::Node>;

  const Token& Peek() const { return t_[pos_]; }
  bool IsWord(const char* w) const {
    return Peek().type == Token::kIdent && absl::AsciiStrToUpper(Peek().text) == w;
  }

  absl::StatusOr<NodePtr> Combine(ListFilter::Node::Kind kind, const char* word,
                                  absl::StatusOr<NodePtr> (Parser::*next)()) {
    auto left = (this->*next)();
    if (!left.ok()) return left;
    while (IsWord(word)) {
      ++pos_;
      auto right = (this->*next)();
      if (!right.ok()) return right;
      auto n = std::make_shared<ListFilter::Node>();
      n->kind = kind;
      n->left = *left;
      n->right = *right;
      left = NodePtr(n);
    }
    return left;
  }
  absl::StatusOr<NodePtr> ParseOr() {
    return Combine(ListFilter::Node::kOr, "OR", &Parser::ParseAnd);
  }
  absl::StatusOr<NodePtr> ParseAnd() {
    return Combine(ListFilter::Node::kAnd, "AND", &Parser::ParseFactor);
  }

  absl::StatusOr<AttributeValue> Value(const ListFilter::Node& n) {
    if (Peek().type != Token::kString && Peek().type != Token::kIdent) {
      return Invalid(absl::StrCat("expected a value for ", n.field));
    }
    auto v = ParseLiteral(n.field, n.type, Peek());
    ++pos_;
    return v;
  }

  absl::Status CheckOp(const ListFilter::Node& n) {
    const bool ordered = n.op == Op::kLt || n.op == Op::kLe || n.op == Op::kGt || n.op == Op::kGe ||
                         n.op == Op::kBetween;
    switch (n.type) {
      case ev1::INDEXED_VALUE_TYPE_TEXT:
        if (ordered || n.op == Op::kStartsWith)
          return Invalid(absl::StrCat("operator not supported for Text attribute ", n.field));
        break;
      case ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST:
      case ev1::INDEXED_VALUE_TYPE_BOOL:
        if (ordered) {
          return Invalid(absl::StrCat("range operator not supported for ", TypeName(n.type),
                                      " attribute ", n.field));
        }
        [[fallthrough]];
      default:
        if (n.op == Op::kStartsWith && n.type != ev1::INDEXED_VALUE_TYPE_KEYWORD &&
            n.type != ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST) {
          return Invalid(absl::StrCat("STARTS_WITH needs a Keyword attribute, not ", n.field));
        }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<NodePtr> ParseFactor() {
    if (Peek().type == Token::kLParen) {
      ++pos_;
      auto inner = ParseOr();
      if (!inner.ok()) return inner;
      if (Peek().type != Token::kRParen) return Invalid("missing ')'");
      ++pos_;
      return inner;
    }
    if (Peek().type != Token::kIdent) {
      return Invalid(absl::StrCat("expected a search attribute, got '", Peek().text, "'"));
    }
    auto n = std::make_shared<ListFilter::Node>();
    n->field = Peek().text;
    if (auto it = SystemSearchAttributes().find(n->field); it != SystemSearchAttributes().end()) {
      n->type = it->second;
      n->custom = IsSettableSystemAttribute(n->field);
    } else if (auto c = custom_.find(n->field); c != custom_.end()) {
      n->type = c->second;
      n->custom = true;
    } else {
      return Invalid(absl::StrCat("unknown or unsupported search attribute: ", n->field));
    }
    ++pos_;
    if (IsWord("IS")) {
      ++pos_;
      n->op = Op::kIsNull;
      if (IsWord("NOT")) {
        ++pos_;
        n->op = Op::kNotNull;
      }
      if (!IsWord("NULL")) return Invalid("expected NULL after IS");
      ++pos_;
      return NodePtr(n);
    }
    bool negate = false;
    if (IsWord("NOT")) {
      ++pos_;
      negate = true;
      if (!IsWord("IN")) return Invalid("expected IN after NOT");
    }
    if (IsWord("IN")) {
      ++pos_;
      n->op = negate ? Op::kNotIn : Op::kIn;
      if (Peek().type != Token::kLParen) return Invalid("expected '(' after IN");
      ++pos_;
      while (true) {
        auto v = Value(*n);
        if (!v.ok()) return v.status();
        n->values.push_back(std::move(*v));
        if (Peek().type == Token::kComma) {
          ++pos_;
          continue;
        }
        if (Peek().type == Token::kRParen) {
          ++pos_;
          break;
        }
        return Invalid("malformed IN list");
      }
      if (auto s = CheckOp(*n); !s.ok()) return s;
      return NodePtr(n);
    }
    if (IsWord("BETWEEN")) {
      ++pos_;
      n->op = Op::kBetween;
      if (auto s = CheckOp(*n); !s.ok()) return s;
      auto low = Value(*n);
      if (!low.ok()) return low.status();
      if (!IsWord("AND")) return Invalid("expected AND in BETWEEN");
      ++pos_;
      auto high = Value(*n);
      if (!high.ok()) return high.status();
      n->values = {std::move(*low), std::move(*high)};
      return NodePtr(n);
    }
    if (IsWord("STARTS_WITH")) {
      n->op = Op::kStartsWith;
    } else if (Peek().type == Token::kOp) {
      const std::string& op = Peek().text;
      n->op = op == "="    ? Op::kEq
              : op == "!=" ? Op::kNe
              : op == "<"  ? Op::kLt
              : op == "<=" ? Op::kLe
              : op == ">"  ? Op::kGt
                           : Op::kGe;
    } else {
      return Invalid(absl::StrCat("expected an operator after ", n->field));
    }
    ++pos_;
    if (auto s = CheckOp(*n); !s.ok()) return s;
    auto v = Value(*n);
    if (!v.ok()) return v.status();
    n->values.push_back(std::move(*v));
    return NodePtr(n);
  }

  std::vector<Token> t_;
  const SearchAttributeTypes& custom_;
  size_t pos_ = 0;
};

// The run's value of the node's attribute; nullopt when it has none.
std::optional<AttributeValue> Actual(const ListFilter::Node& n, const ExecutionFields& f) {
  if (n.custom) {
    if (!f.search_attributes) return std::nullopt;
    auto it = f.search_attributes->indexed_fields().find(n.field);
    if (it == f.search_attributes->indexed_fields().end()) return std::nullopt;
    return DecodeValue(it->second, n.type);
  }
  AttributeValue v;
  const std::string& field = n.field;
  if (field == "WorkflowId") {
    v.strings = {f.workflow_id};
  } else if (field == "RunId") {
    v.strings = {f.run_id};
  } else if (field == "WorkflowType") {
    v.strings = {f.workflow_type};
  } else if (field == "TaskQueue") {
    v.strings = {f.task_queue};
  } else if (field == "ExecutionStatus") {
    v.strings = {StatusName(f.status)};
  } else if (field == "StartTime" || field == "CloseTime" || field == "ExecutionTime") {
    v.int_value = field == "StartTime"   ? f.start_time_ns
                  : field == "CloseTime" ? f.close_time_ns
                                         : f.execution_time_ns;
    if (v.int_value == 0) return std::nullopt;
  } else if (field == "HistoryLength") {
    v.int_value = f.history_length;
  } else if (field == "ExecutionDuration") {
    if (f.close_time_ns == 0) return std::nullopt;
    v.int_value = f.close_time_ns - f.execution_time_ns;
  } else {
    return std::nullopt;  // system attributes this server does not track
  }
  return v;
}

// <0, 0, >0 comparing scalar values of `type`.
int Compare(const AttributeValue& a, const AttributeValue& b, IndexedValueType type) {
  switch (type) {
    case ev1::INDEXED_VALUE_TYPE_INT:
    case ev1::INDEXED_VALUE_TYPE_DATETIME:
      return a.int_value < b.int_value ? -1 : a.int_value > b.int_value;
    case ev1::INDEXED_VALUE_TYPE_DOUBLE:
      return a.double_value < b.double_value ? -1 : a.double_value > b.double_value;
    case ev1::INDEXED_VALUE_TYPE_BOOL:
      return static_cast<int>(a.bool_value) - static_cast<int>(b.bool_value);
    default:
      return a.strings.at(0).compare(b.strings.at(0));
  }
}

bool EvalCompare(const ListFilter::Node& n, const ExecutionFields& f) {
  std::optional<AttributeValue> actual = Actual(n, f);
  if (n.op == Op::kIsNull || n.op == Op::kNotNull) {
    bool null =
        !actual || (n.type == ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST && actual->strings.empty());
    return (n.op == Op::kIsNull) == null;
  }
  if (!actual) return false;
  if (n.type == ev1::INDEXED_VALUE_TYPE_KEYWORD_LIST) {
    auto contains = [&](const std::string& s) {
      return std::find(actual->strings.begin(), actual->strings.end(), s) != actual->strings.end();
    };
    bool any = false;
    for (const auto& v : n.values) {
      if (n.op == Op::kStartsWith) {
        for (const auto& s : actual->strings) any |= s.starts_with(v.strings.at(0));
      } else {
        any |= contains(v.strings.at(0));
      }
    }
    return (n.op == Op::kNe || n.op == Op::kNotIn) ? !any : any;
  }
  const AttributeValue& first = n.values.at(0);
  switch (n.op) {
    case Op::kEq:
      return Compare(*actual, first, n.type) == 0;
    case Op::kNe:
      return Compare(*actual, first, n.type) != 0;
    case Op::kLt:
      return Compare(*actual, first, n.type) < 0;
    case Op::kLe:
      return Compare(*actual, first, n.type) <= 0;
    case Op::kGt:
      return Compare(*actual, first, n.type) > 0;
    case Op::kGe:
      return Compare(*actual, first, n.type) >= 0;
    case Op::kBetween:
      return Compare(*actual, first, n.type) >= 0 && Compare(*actual, n.values.at(1), n.type) <= 0;
    case Op::kStartsWith:
      return actual->strings.at(0).starts_with(first.strings.at(0));
    case Op::kIn:
    case Op::kNotIn: {
      bool any = false;
      for (const auto& v : n.values) any |= Compare(*actual, v, n.type) == 0;
      return n.op == Op::kIn ? any : !any;
    }
    default:
      return false;
  }
}

bool Eval(const ListFilter::Node& n, const ExecutionFields& f) {
  switch (n.kind) {
    case ListFilter::Node::kAnd:
      return Eval(*n.left, f) && Eval(*n.right, f);
    case ListFilter::Node::kOr:
      return Eval(*n.left, f) || Eval(*n.right, f);
    case ListFilter::Node::kCompare:
      break;
  }
  return EvalCompare(n, f);
}

}  // namespace

absl::StatusOr<ListFilter> ListFilter::Parse(std::string_view query,
                                             const SearchAttributeTypes& custom) {
  auto tokens = Tokenize(query);
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens), custom);
  auto root = parser.ParseAll();
  if (!root.ok()) return root.status();
  ListFilter f;
  f.root_ = *root;
  return f;
}

bool ListFilter::Matches(const ExecutionFields& fields) const {
  return !root_ || Eval(*root_, fields);
}

}  // namespace temporalio::server::visibility
