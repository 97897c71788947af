"""Hand-written autograd Functions (exp, a product, gradient reversal) in a tiny model."""

import torch
import torch.nn as nn


class Exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y


class Mul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return grad_output * b, grad_output * a


class ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.neg() * ctx.alpha, None


class Gate(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.a = nn.Linear(n, n)
        self.b = nn.Linear(n, n)

    def forward(self, x):
        return Mul.apply(Exp.apply(self.a(x)), ReverseGrad.apply(self.b(x), 0.5))


if __name__ == "__main__":
    x = torch.randn(3, 4, dtype=torch.float64)
    for fn, args in ((Exp, (x,)), (Mul, (x, x.flip(0)))):
        inputs = tuple(a.clone().requires_grad_() for a in args)
        print(fn.__name__, torch.autograd.gradcheck(fn.apply, inputs))
