using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace InfraMind.Node.Crypto;

/// <summary>
/// Keccak-256 as Ethereum uses it (original Keccak padding 0x01, not SHA3-256's 0x06).
/// A mutable value type so hashing never touches the heap: declare it as a local, Append, Finish.
/// </summary>
public struct Keccak256
{
    public const int HashSize = 32;

    // 1600-bit state minus 2 x 256-bit capacity: 1088 bits absorbed per permutation.
    internal const int RateBytes = 136;
    private const int RateLanes = RateBytes / 8;

    private KeccakState _state;
    private KeccakBlock _pending;
    private int _pendingLength;

    /// <summary>One-shot hash of <paramref name="data"/> into <paramref name="hash"/> (32 bytes).</summary>
    public static void Hash(ReadOnlySpan<byte> data, Span<byte> hash)
    {
        var keccak = new Keccak256();
        keccak.Append(data);
        keccak.Finish(hash);
    }

    public static Hash32 Hash(ReadOnlySpan<byte> data)
    {
        Hash32 result = default;
        Hash(data, result);
        return result;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        Span<ulong> state = _state;
        if (_pendingLength > 0)
        {
            int take = Math.Min(RateBytes - _pendingLength, data.Length);
            data[..take].CopyTo(((Span<byte>)_pending)[_pendingLength..]);
            _pendingLength += take;
            data = data[take..];
            if (_pendingLength < RateBytes)
                return;
            Absorb(state, _pending);
            _pendingLength = 0;
        }

        // Whole blocks straight from the caller's buffer, no copy.
        while (data.Length >= RateBytes)
        {
            Absorb(state, data[..RateBytes]);
            data = data[RateBytes..];
        }

        if (!data.IsEmpty)
        {
            data.CopyTo(_pending);
            _pendingLength = data.Length;
        }
    }

    /// <summary>Pads, permutes and writes the 32-byte digest. The instance must not be reused afterwards.</summary>
    public void Finish(Span<byte> hash)
    {
        if (hash.Length < HashSize)
            ThrowHelper.ThrowArgument(nameof(hash), "a Keccak-256 digest needs 32 bytes");

        Span<byte> block = _pending;
        block[_pendingLength..].Clear();
        block[_pendingLength] ^= 0x01;
        block[RateBytes - 1] ^= 0x80;
        Span<ulong> state = _state;
        Absorb(state, block);
        for (int i = 0; i < HashSize / 8; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(hash[(i * 8)..], state[i]);
        state.Clear();
        block.Clear();
    }

    private static void Absorb(Span<ulong> state, ReadOnlySpan<byte> block)
    {
        for (int i = 0; i < RateLanes; i++)
            state[i] ^= BinaryPrimitives.ReadUInt64LittleEndian(block[(i * 8)..]);
        Permute(state);
    }

    private static readonly ulong[] RoundConstants =
    [
        0x0000000000000001UL, 0x0000000000008082UL, 0x800000000000808aUL, 0x8000000080008000UL,
        0x000000000000808bUL, 0x0000000080000001UL, 0x8000000080008081UL, 0x8000000000008009UL,
        0x000000000000008aUL, 0x0000000000000088UL, 0x0000000080008009UL, 0x000000008000000aUL,
        0x000000008000808bUL, 0x800000000000008bUL, 0x8000000000008089UL, 0x8000000000008003UL,
        0x8000000000008002UL, 0x8000000000000080UL, 0x000000000000800aUL, 0x800000008000000aUL,
        0x8000000080008081UL, 0x8000000000008080UL, 0x0000000080000001UL, 0x8000000080008008UL,
    ];

    // Keccak-f[1600], lanes kept in locals so the JIT holds them in registers.
    // Lane i is (x, y) = (i % 5, i / 5). The round body is generated, not hand-typed.
    internal static void Permute(Span<ulong> state)
    {
        if (state.Length < 25)
            ThrowHelper.ThrowArgument(nameof(state), "the Keccak state has 25 lanes");

        ulong s0 = state[0];
        ulong s1 = state[1];
        ulong s2 = state[2];
        ulong s3 = state[3];
        ulong s4 = state[4];
        ulong s5 = state[5];
        ulong s6 = state[6];
        ulong s7 = state[7];
        ulong s8 = state[8];
        ulong s9 = state[9];
        ulong s10 = state[10];
        ulong s11 = state[11];
        ulong s12 = state[12];
        ulong s13 = state[13];
        ulong s14 = state[14];
        ulong s15 = state[15];
        ulong s16 = state[16];
        ulong s17 = state[17];
        ulong s18 = state[18];
        ulong s19 = state[19];
        ulong s20 = state[20];
        ulong s21 = state[21];
        ulong s22 = state[22];
        ulong s23 = state[23];
        ulong s24 = state[24];

        ReadOnlySpan<ulong> roundConstants = RoundConstants;
        for (int round = 0; round < 24; round++)
        {
            ulong c0 = s0 ^ s5 ^ s10 ^ s15 ^ s20, c1 = s1 ^ s6 ^ s11 ^ s16 ^ s21, c2 = s2 ^ s7 ^ s12 ^ s17 ^ s22,
                c3 = s3 ^ s8 ^ s13 ^ s18 ^ s23, c4 = s4 ^ s9 ^ s14 ^ s19 ^ s24;
            ulong d0 = c4 ^ BitOperations.RotateLeft(c1, 1), d1 = c0 ^ BitOperations.RotateLeft(c2, 1),
                d2 = c1 ^ BitOperations.RotateLeft(c3, 1), d3 = c2 ^ BitOperations.RotateLeft(c4, 1),
                d4 = c3 ^ BitOperations.RotateLeft(c0, 1);
            // rho and pi: lane (x, y) moves to (y, 2x + 3y) rotated by its offset.
            ulong b0 = s0 ^ d0;
            ulong b1 = BitOperations.RotateLeft(s6 ^ d1, 44);
            ulong b2 = BitOperations.RotateLeft(s12 ^ d2, 43);
            ulong b3 = BitOperations.RotateLeft(s18 ^ d3, 21);
            ulong b4 = BitOperations.RotateLeft(s24 ^ d4, 14);
            ulong b5 = BitOperations.RotateLeft(s3 ^ d3, 28);
            ulong b6 = BitOperations.RotateLeft(s9 ^ d4, 20);
            ulong b7 = BitOperations.RotateLeft(s10 ^ d0, 3);
            ulong b8 = BitOperations.RotateLeft(s16 ^ d1, 45);
            ulong b9 = BitOperations.RotateLeft(s22 ^ d2, 61);
            ulong b10 = BitOperations.RotateLeft(s1 ^ d1, 1);
            ulong b11 = BitOperations.RotateLeft(s7 ^ d2, 6);
            ulong b12 = BitOperations.RotateLeft(s13 ^ d3, 25);
            ulong b13 = BitOperations.RotateLeft(s19 ^ d4, 8);
            ulong b14 = BitOperations.RotateLeft(s20 ^ d0, 18);
            ulong b15 = BitOperations.RotateLeft(s4 ^ d4, 27);
            ulong b16 = BitOperations.RotateLeft(s5 ^ d0, 36);
            ulong b17 = BitOperations.RotateLeft(s11 ^ d1, 10);
            ulong b18 = BitOperations.RotateLeft(s17 ^ d2, 15);
            ulong b19 = BitOperations.RotateLeft(s23 ^ d3, 56);
            ulong b20 = BitOperations.RotateLeft(s2 ^ d2, 62);
            ulong b21 = BitOperations.RotateLeft(s8 ^ d3, 55);
            ulong b22 = BitOperations.RotateLeft(s14 ^ d4, 39);
            ulong b23 = BitOperations.RotateLeft(s15 ^ d0, 41);
            ulong b24 = BitOperations.RotateLeft(s21 ^ d1, 2);
            // chi, then iota on lane 0.
            s0 = b0 ^ (~b1 & b2);
            s1 = b1 ^ (~b2 & b3);
            s2 = b2 ^ (~b3 & b4);
            s3 = b3 ^ (~b4 & b0);
            s4 = b4 ^ (~b0 & b1);
            s5 = b5 ^ (~b6 & b7);
            s6 = b6 ^ (~b7 & b8);
            s7 = b7 ^ (~b8 & b9);
            s8 = b8 ^ (~b9 & b5);
            s9 = b9 ^ (~b5 & b6);
            s10 = b10 ^ (~b11 & b12);
            s11 = b11 ^ (~b12 & b13);
            s12 = b12 ^ (~b13 & b14);
            s13 = b13 ^ (~b14 & b10);
            s14 = b14 ^ (~b10 & b11);
            s15 = b15 ^ (~b16 & b17);
            s16 = b16 ^ (~b17 & b18);
            s17 = b17 ^ (~b18 & b19);
            s18 = b18 ^ (~b19 & b15);
            s19 = b19 ^ (~b15 & b16);
            s20 = b20 ^ (~b21 & b22);
            s21 = b21 ^ (~b22 & b23);
            s22 = b22 ^ (~b23 & b24);
            s23 = b23 ^ (~b24 & b20);
            s24 = b24 ^ (~b20 & b21);
            s0 ^= roundConstants[round];
        }

        state[0] = s0;
        state[1] = s1;
        state[2] = s2;
        state[3] = s3;
        state[4] = s4;
        state[5] = s5;
        state[6] = s6;
        state[7] = s7;
        state[8] = s8;
        state[9] = s9;
        state[10] = s10;
        state[11] = s11;
        state[12] = s12;
        state[13] = s13;
        state[14] = s14;
        state[15] = s15;
        state[16] = s16;
        state[17] = s17;
        state[18] = s18;
        state[19] = s19;
        state[20] = s20;
        state[21] = s21;
        state[22] = s22;
        state[23] = s23;
        state[24] = s24;
    }

    [InlineArray(25)]
    private struct KeccakState
    {
        private ulong _lane;
    }

    [InlineArray(RateBytes)]
    private struct KeccakBlock
    {
        private byte _byte;
    }
}
