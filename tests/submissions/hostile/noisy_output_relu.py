# Sabotage: ReLU prints and raises text made to act on a terminal, rich markup and XML:
# escape sequences (clear the screen, set the title, move the cursor), rich markup that does
# not close, a NUL, a BEL, a right-to-left override.
NOISE = ("[bold red]FAKE[/] [/nonexistent] [link=http://x]x[/link] :smile: \x1b[2J\x1b[H"
         "\x1b]0;owned\x07 \x00 \u202eevil\u202c \x1b[31mred\x1b[0m \r overwritten")
print(NOISE)


class ReLU(ReLU):
    def forward(self, inputs):
        print(NOISE)
        raise ValueError(NOISE)
