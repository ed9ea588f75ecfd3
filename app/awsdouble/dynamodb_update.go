package awsdouble

import (
	"strings"
	"unicode"
)

// itemUpdate is a compiled update expression: the attributes it sets and removes.
type itemUpdate struct {
	set    []setAction
	remove []string
}

type setAction struct {
	attr  string
	value operand
}

func compileItemUpdate(expr string, ctx *exprContext) (itemUpdate, *apiError) {
	var u itemUpdate
	tokens, aerr := tokenize("UpdateExpression", expr)
	if aerr != nil {
		return u, aerr
	}
	p := &exprParser{kind: "UpdateExpression", tokens: tokens, ctx: ctx}
	for p.pos < len(p.tokens) {
		switch clause := strings.ToUpper(p.next()); clause {
		case "SET":
			for {
				attr, aerr := p.path()
				if aerr == nil {
					aerr = p.expect("=")
				}
				if aerr != nil {
					return u, aerr
				}
				if strings.EqualFold(p.peek(), "if_not_exists") || strings.EqualFold(p.peek(), "list_append") {
					return u, p.notModelled("the function " + p.peek())
				}
				value, aerr := p.operand()
				if aerr != nil {
					return u, aerr
				}
				if p.peek() == "+" || p.peek() == "-" {
					return u, p.notModelled("arithmetic in SET")
				}
				u.set = append(u.set, setAction{attr, value})
				if p.peek() != "," {
					break
				}
				p.next()
			}
		case "REMOVE":
			for {
				attr, aerr := p.path()
				if aerr != nil {
					return u, aerr
				}
				u.remove = append(u.remove, attr)
				if p.peek() != "," {
					break
				}
				p.next()
			}
		case "ADD", "DELETE":
			return u, p.notModelled("the " + clause + " clause")
		default:
			p.pos--
			return u, p.syntaxError()
		}
	}
	if len(u.set)+len(u.remove) == 0 {
		return u, validation("Invalid UpdateExpression: The expression can not be empty;")
	}
	return u, nil
}

// apply returns a copy of it with the update applied.
func (u itemUpdate) apply(it item) item {
	out := make(item, len(it)+len(u.set))
	for k, v := range it {
		out[k] = v
	}
	for _, s := range u.set {
		if v, ok := s.value.eval(it); ok {
			out[s.attr] = v
		}
	}
	for _, attr := range u.remove {
		delete(out, attr)
	}
	return out
}

// tokenize splits an expression into names, placeholders, punctuation and comparators.
func tokenize(kind, expr string) ([]string, *apiError) {
	var tokens []string
	for i := 0; i < len(expr); {
		c := rune(expr[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("(),.[]=+-", c):
			tokens = append(tokens, string(c))
			i++
		case c == '<' || c == '>':
			if i+1 < len(expr) && (expr[i+1] == '=' || (c == '<' && expr[i+1] == '>')) {
				tokens = append(tokens, expr[i:i+2])
				i += 2
			} else {
				tokens = append(tokens, string(c))
				i++
			}
		case c == '#' || c == ':' || c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c):
			j := i + 1
			for j < len(expr) && (expr[j] == '_' || unicode.IsLetter(rune(expr[j])) || unicode.IsDigit(rune(expr[j]))) {
				j++
			}
			tokens = append(tokens, expr[i:j])
			i = j
		default:
			return nil, validation("Invalid " + kind + ": Syntax error; token: \"" + string(c) + "\"")
		}
	}
	if len(tokens) == 0 {
		return nil, validation("Invalid " + kind + ": The expression can not be empty;")
	}
	return tokens, nil
}
