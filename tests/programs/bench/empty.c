/* Boot-to-exit: a program that does nothing. The harness times the whole VM run. */
int main(void)
{
    return 0;
}
