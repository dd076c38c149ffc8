#!/usr/bin/env python3
"""Tests of .ci/ct-check.py: its rule on small disassemblies written out here, and on a real
compiler's output (fixture.rs built for RISC-V), where the branchy functions must fail."""
import importlib.util
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("ct_check", os.path.join(HERE, "..", "ct-check.py"))
ct = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ct)


def listing(name, body):
    """llvm-objdump's layout for one function whose instructions are 2 bytes apart."""
    lines = [f"00000000 <{name}>:"]
    for i, insn in enumerate(body.strip().splitlines()):
        lines.append(f"{2 * i:8x}:      \t{insn.strip()}")
    return "\n".join(lines)


def violations(body, secret=()):
    functions = ct.parse(listing("f", body))
    return ct.analyse(functions["f"], set(secret))


class Rule(unittest.TestCase):
    def test_a_loop_over_lengths_and_pointers_passes(self):
        body = """
            beqz a1, 0xa <f+0xa>
            lw a5, 0x0(a0)
            addi a0, a0, 0x4
            addi a1, a1, -0x1
            bnez a1, 0x2 <f+0x2>
            ret
        """
        self.assertEqual(violations(body), [])

    def test_a_branch_on_the_secret_argument_fails(self):
        body = """
            beqz a4, 0x4 <f+0x4>
            sw a2, 0x0(a0)
            ret
        """
        self.assertEqual([v[2] for v in violations(body, {"a4"})], [["a4"]])
        self.assertEqual(violations(body), [])

    def test_a_branch_on_loaded_data_fails_even_through_arithmetic(self):
        body = """
            lw a5, 0x0(a0)
            srli a6, a5, 0x3
            add a7, a6, a1
            bltu a7, a1, 0xa <f+0xa>
            ret
            ret
        """
        self.assertEqual([v[2] for v in violations(body)], [["a7"]])

    def test_a_register_reused_for_a_counter_is_public_again(self):
        body = """
            lw a5, 0x0(a0)
            sw a5, 0x0(a2)
            mv a5, a1
            addi a5, a5, -0x1
            bnez a5, 0x6 <f+0x6>
            ret
        """
        self.assertEqual(violations(body), [])

    def test_stack_slots_keep_the_taint_of_what_was_stored(self):
        spilled_length = """
            sw a1, 0xc(sp)
            lw a5, 0xc(sp)
            bnez a5, 0x8 <f+0x8>
            ret
            ret
        """
        self.assertEqual(violations(spilled_length), [])
        spilled_secret = spilled_length.replace("a1", "a4")
        self.assertEqual(len(violations(spilled_secret, {"a4"})), 1)
        never_written = """
            lw a5, 0x10(sp)
            bnez a5, 0x6 <f+0x6>
            ret
            ret
        """
        self.assertEqual(len(violations(never_written)), 1)

    def test_taint_flows_around_loops(self):
        # a5 is public on the first pass and loaded data when the back edge brings it round.
        body = """
            li a5, 0x0
            bnez a5, 0xa <f+0xa>
            lw a5, 0x0(a0)
            j 0x2 <f+0x2>
            ret
            ret
        """
        self.assertEqual(len(violations(body)), 1)

    def test_after_a_call_its_results_are_secret(self):
        body = """
            call 0x100 <g>
            bnez a0, 0x6 <f+0x6>
            ret
            ret
        """
        self.assertEqual(len(violations(body)), 1)

    def test_a_listed_function_missing_from_the_binary_fails(self):
        text = listing("ucrypto::other::h0123456789abcdef", "ret")
        self.assertFalse(ct.check(text, {"ucrypto::cond_copy": set()}, "x"))
        text = listing("ucrypto::cond_copy::h0123456789abcdef", "ret")
        self.assertTrue(ct.check(text, {"ucrypto::cond_copy": set()}, "x"))


class CompiledFixture(unittest.TestCase):
    """fixture.rs built by rustc for the ESP32-C3's target: what the firmware's build sees."""

    def test_branchy_functions_fail_and_the_blend_passes(self):
        target = "riscv32imc-unknown-none-elf"
        installed = subprocess.run(
            ["rustc", "--print", "target-libdir", "--target", target],
            capture_output=True,
            text=True,
        )
        if installed.returncode != 0 or not os.path.isdir(installed.stdout.strip()):
            self.skipTest(f"the {target} target is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            obj = os.path.join(tmp, "fixture.o")
            subprocess.run(
                ["rustc", "--edition", "2021", "--target", target, "--crate-type", "lib",
                 "-C", "opt-level=s", "-C", "panic=abort", "--emit", "obj", "-o", obj,
                 os.path.join(HERE, "fixture.rs")],
                check=True,
            )
            text = subprocess.run(
                [ct.objdump(), "-d", "-C", "--no-show-raw-insn", obj],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        functions = ct.parse(text)
        wanted = ct.load_functions(os.path.join(HERE, "fixture-functions.txt"))
        results = {}
        for name, secret in wanted.items():
            (symbol,) = [s for s in functions if ct.canonical(s) == name]
            results[name] = ct.analyse(functions[symbol], secret)
        self.assertEqual(results["ct_fixture_select"], [])
        self.assertEqual(len(results["ct_fixture_branchy_select"]), 1)
        self.assertEqual(len(results["ct_fixture_first_nonzero"]), 1)
        self.assertFalse(ct.check(text, wanted, "fixture"))


if __name__ == "__main__":
    unittest.main()
