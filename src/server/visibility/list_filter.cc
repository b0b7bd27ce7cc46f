#include "server/visibility/list_filter.h"

#include <cctype>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace temporalio::server::visibility {

namespace ev1 = temporal::api::enums::v1;

struct ListFilter::Node {
  enum Kind { kAnd, kOr, kCompare } kind = kCompare;
  std::shared_ptr<const Node> left, right;
  std::string field;
  bool negate = false;
  std::vector<std::string> values;
};

namespace {

struct Token {
  enum Type { kIdent, kString, kOp, kLParen, kRParen, kComma, kEnd } type;
  std::string text;
};

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view q) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < q.size()) {
    char c = q[i];
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
    } else if (c == '!' && i + 1 < q.size() && q[i + 1] == '=') {
      out.push_back({Token::kOp, "!="});
      i += 2;
    } else if (c == '\'' || c == '"') {
      size_t end = q.find(c, i + 1);
      if (end == std::string_view::npos)
        return absl::InvalidArgumentError("invalid query: unterminated string");
      out.push_back({Token::kString, std::string(q.substr(i + 1, end - i - 1))});
      i = end + 1;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '`') {
      size_t start = i;
      while (i < q.size() && (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_' ||
                              q[i] == '`' || q[i] == '.' || q[i] == '-')) {
        ++i;
      }
      std::string word(q.substr(start, i - start));
      word.erase(std::remove(word.begin(), word.end(), '`'), word.end());
      out.push_back({Token::kIdent, word});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid query: unexpected '", std::string(1, c), "'"));
    }
  }
  out.push_back({Token::kEnd, ""});
  return out;
}

bool KnownField(const std::string& f) {
  return f == "WorkflowId" || f == "RunId" || f == "WorkflowType" || f == "ExecutionStatus" ||
         f == "TaskQueue";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  absl::StatusOr<std::shared_ptr<const ListFilter::Node>> ParseAll() {
    if (Peek().type == Token::kEnd) return nullptr;
    if (IsWord("ORDER")) return nullptr;
    auto node = ParseOr();
    if (!node.ok()) return node;
    if (IsWord("ORDER")) return node;  // ordering is not configurable here
    if (Peek().type != Token::kEnd)
      return absl::InvalidArgumentError(
          absl::StrCat("invalid query: unexpected '", Peek().text, "'"));
    return node;
  }

 private:
  const Token& Peek() const { return t_[pos_]; }
  bool IsWord(const char* w) const {
    return Peek().type == Token::kIdent && absl::AsciiStrToUpper(Peek().text) == w;
  }

  absl::StatusOr<std::shared_ptr<const ListFilter::Node>> ParseOr() {
    auto left = ParseAnd();
    if (!left.ok()) return left;
    while (IsWord("OR")) {
      ++pos_;
      auto right = ParseAnd();
      if (!right.ok()) return right;
      auto n = std::make_shared<ListFilter::Node>();
      n->kind = ListFilter::Node::kOr;
      n->left = *left;
      n->right = *right;
      left = n;
    }
    return left;
  }

  absl::StatusOr<std::shared_ptr<const ListFilter::Node>> ParseAnd() {
    auto left = ParseFactor();
    if (!left.ok()) return left;
    while (IsWord("AND")) {
      ++pos_;
      auto right = ParseFactor();
      if (!right.ok()) return right;
      auto n = std::make_shared<ListFilter::Node>();
      n->kind = ListFilter::Node::kAnd;
      n->left = *left;
      n->right = *right;
      left = n;
    }
    return left;
  }

  absl::StatusOr<std::shared_ptr<const ListFilter::Node>> ParseFactor() {
    if (Peek().type == Token::kLParen) {
      ++pos_;
      auto inner = ParseOr();
      if (!inner.ok()) return inner;
      if (Peek().type != Token::kRParen)
        return absl::InvalidArgumentError("invalid query: missing ')'");
      ++pos_;
      return inner;
    }
    if (Peek().type != Token::kIdent) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid query: expected a search attribute, got '", Peek().text, "'"));
    }
    auto n = std::make_shared<ListFilter::Node>();
    n->field = Peek().text;
    if (!KnownField(n->field)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid query: unknown or unsupported search attribute: ", n->field));
    }
    ++pos_;
    if (IsWord("NOT")) {
      ++pos_;
      n->negate = true;
      if (!IsWord("IN")) return absl::InvalidArgumentError("invalid query: expected IN after NOT");
    }
    if (IsWord("IN")) {
      ++pos_;
      if (Peek().type != Token::kLParen)
        return absl::InvalidArgumentError("invalid query: expected '(' after IN");
      ++pos_;
      while (true) {
        if (Peek().type != Token::kString)
          return absl::InvalidArgumentError("invalid query: expected a string in IN list");
        n->values.push_back(Peek().text);
        ++pos_;
        if (Peek().type == Token::kComma) {
          ++pos_;
          continue;
        }
        if (Peek().type == Token::kRParen) {
          ++pos_;
          break;
        }
        return absl::InvalidArgumentError("invalid query: malformed IN list");
      }
      return std::shared_ptr<const ListFilter::Node>(n);
    }
    if (Peek().type != Token::kOp) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid query: expected an operator after ", n->field));
    }
    n->negate = Peek().text == "!=";
    ++pos_;
    if (Peek().type != Token::kString && Peek().type != Token::kIdent) {
      return absl::InvalidArgumentError("invalid query: expected a value");
    }
    n->values.push_back(Peek().text);
    ++pos_;
    return std::shared_ptr<const ListFilter::Node>(n);
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
};

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

bool Eval(const ListFilter::Node& n, const ExecutionFields& f) {
  switch (n.kind) {
    case ListFilter::Node::kAnd:
      return Eval(*n.left, f) && Eval(*n.right, f);
    case ListFilter::Node::kOr:
      return Eval(*n.left, f) || Eval(*n.right, f);
    case ListFilter::Node::kCompare:
      break;
  }
  std::string actual;
  if (n.field == "WorkflowId")
    actual = f.workflow_id;
  else if (n.field == "RunId")
    actual = f.run_id;
  else if (n.field == "WorkflowType")
    actual = f.workflow_type;
  else if (n.field == "TaskQueue")
    actual = f.task_queue;
  else if (n.field == "ExecutionStatus")
    actual = StatusName(f.status);
  bool any = false;
  for (const auto& v : n.values) any |= (v == actual);
  return n.negate ? !any : any;
}

}  // namespace

absl::StatusOr<ListFilter> ListFilter::Parse(std::string_view query) {
  auto tokens = Tokenize(query);
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens));
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
